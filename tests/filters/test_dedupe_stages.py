"""dedupe_exact / dedupe_fuzzy through the real runner on a one-worker Dask cluster,
connected components against a union-find reference, and `gristmill dedupe`."""

import glob
import json
import os
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gristmill.pipeline import cli, runner
from gristmill.pipeline.registry import resolve
from gristmill.pipeline.workflow import Step, Workflow
from tests.support.paths import SHARED_DATA

DATA = SHARED_DATA
BOOK = os.path.join(DATA, "text", "gutenberg", "pg84_frankenstein.txt")
EDITIONS = os.path.join(DATA, "dedup", "gutenberg_editions", "docs")
needs_data = pytest.mark.skipif(not os.path.exists(BOOK), reason="../shared/data (Gutenberg text) not present")


@pytest.fixture(scope="module")
def client():
    with runner.dask_client(workers=1) as c:
        yield c


def write_shards(folder, shards):
    os.makedirs(folder, exist_ok=True)
    for i, rows in enumerate(shards):
        pq.write_table(pa.table(rows), os.path.join(folder, f"in-{i}.parquet"))
    return str(folder)


def run(client, stage, params, inputs, out):
    wf = Workflow(name="t", inputs=[inputs], steps=[Step("d", resolve(stage)(**params))])
    runner.run(wf, out_dirs={"d": out}, client=client, quiet=True)
    kept = pa.concat_tables([pq.read_table(f) for f in sorted(glob.glob(f"{out}/part-*.parquet"))])
    drops = pa.concat_tables([pq.read_table(f) for f in sorted(glob.glob(f"{out}/dropped/part-*.parquet"))])
    stats = json.load(open(os.path.join(out, "stats.json")))
    assert stats["docs_in"] == stats["docs_out"] + stats["docs_dropped"] == kept.num_rows + drops.num_rows
    return ({r["id"]: r for r in kept.to_pylist()}, {r["id"]: r for r in drops.to_pylist()}, stats)


def t(y):
    return datetime(y, 1, 1, tzinfo=timezone.utc)


def test_exact_dedupe_keeps_the_earliest_and_names_it(client, tmp_path):
    inp = write_shards(tmp_path / "in", [
        {"id": ["a", "b", "c"], "text": ["Hello, world! Foo bar.", "unique text", "hello world foo bar"],
         "fetched_at": pa.array([t(2022), t(2020), t(2019)], pa.timestamp("us", tz="UTC"))},
        {"id": ["d", "e", "f"], "text": ["HELLO   world: foo-bar", "Unique text!", "hello world foo"],
         "fetched_at": pa.array([t(2018), None, t(2018)], pa.timestamp("us", tz="UTC"))},
    ])
    kept, drops, stats = run(client, "dedupe_exact", {}, inp, str(tmp_path / "out"))
    assert set(kept) == {"d", "b", "f"}  # d is the earliest copy; b has a date, e has none
    assert {i: (r["reason"], r["duplicate_of"], r["dup_cluster"]) for i, r in drops.items()} == {
        "a": ("exact_duplicate", "d", "exact:d"), "c": ("exact_duplicate", "d", "exact:d"),
        "e": ("exact_duplicate", "b", "exact:b")}
    assert kept["d"]["dup_cluster"] == "exact:d" and kept["f"]["dup_cluster"] is None
    assert stats["dropped_by_reason"] == {"exact_duplicate": 3}
    # deterministic: a second run from scratch writes byte-identical shards
    run(client, "dedupe_exact", {}, inp, str(tmp_path / "out2"))
    for f in ("part-00000.parquet", "part-00001.parquet", "dropped/part-00001.parquet"):
        assert open(tmp_path / "out" / f, "rb").read() == open(tmp_path / "out2" / f, "rb").read()


@needs_data
def test_fuzzy_dedupe_clusters_near_duplicates_of_real_text(client, tmp_path):
    w = open(BOOK, encoding="utf-8").read().split()
    a, b, c = (" ".join(w[i:i + 400]) for i in (3000, 6000, 9000))
    a_edit = " ".join(x if i % 80 else "x" for i, x in enumerate(a.split()))  # 5 edits: Jaccard ~0.88
    a_trunc = " ".join(a.split()[:370])
    b_half = " ".join(b.split()[:200])  # Jaccard 0.5: not a duplicate
    inp = write_shards(tmp_path / "in", [
        {"id": ["a", "b", "c", "e1"], "text": [a, b, c, ""], "score_q": pa.array([0.1, 0.5, 0.5, 0.0], pa.float32())},
        {"id": ["a2", "a3", "b2", "e2", "c2"], "text": [a_edit, a_trunc, b_half, " ", c.upper() + "!"],
         "score_q": pa.array([0.9, 0.2, 0.5, 0.0, 0.1], pa.float32())},
    ])
    kept, drops, stats = run(client, "dedupe_fuzzy", {"exact": True}, inp, str(tmp_path / "out"))
    assert set(drops) == {"a2", "a3", "e1", "c"}  # longest kept: a (400 words), c2 (c plus "!")
    assert drops["a3"]["duplicate_of"] == "a" and drops["a3"]["reason"] == "near_duplicate"
    assert drops["c"]["duplicate_of"] == "c2" and drops["c"]["reason"] == "exact_duplicate"
    assert drops["e1"]["duplicate_of"] == "e2"  # empty documents are exact duplicates (exact=True)
    assert "jaccard_to_kept=" in drops["a3"]["detail"]
    assert kept["a"]["dup_cluster"] == drops["a2"]["dup_cluster"] == "fuzzy:a"
    assert kept["b"]["dup_cluster"] is None and kept["b2"]["dup_cluster"] is None
    # keep the best score instead: a2 has score 0.9
    kept, drops, _ = run(client, "dedupe_fuzzy", {"keep": "score_q"}, inp, str(tmp_path / "out_q"))
    assert "a2" in kept and drops["a"]["duplicate_of"] == "a2" and "e1" in kept  # exact=False: empties stay


def test_connected_components_match_union_find(client, tmp_path):
    from gristmill.filters.dedupe.components import connected_components
    from gristmill.pipeline.context import FitContext

    edges = [(i, i + 1) for i in range(100, 120)]  # a long chain (needs pointer jumping)
    edges += [(5, j) for j in range(6, 12)] + [(50, 60), (60, 70), (70, 55), (200, 300)]
    pq.write_table(pa.table({"a": [x for x, _ in edges], "b": [y for _, y in edges]}), tmp_path / "e.parquet")
    ctx = FitContext.local([], str(tmp_path / "step"))
    ctx.client = client  # on the cluster, as in a run
    folder, rounds = connected_components(ctx, str(tmp_path / "e.parquet"), str(tmp_path / "cc"))
    got = dict(zip(*pq.read_table(folder).select(["v", "label"]).to_pydict().values()))
    parent = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for x, y in edges:
        parent[find(max(x, y))] = find(min(x, y))
    assert got == {v: min(u for u in parent if find(u) == find(v)) for v in parent}
    assert rounds < 10


@pytest.mark.skipif(not os.path.isdir(EDITIONS), reason="../shared/data/dedup not present")
def test_gutenberg_editions_reduce_to_one_copy_per_book(client, tmp_path):
    files = ["frankenstein__84-0.txt", "frankenstein__old_frank10.txt", "frankenstein__old_frank14.txt",
             "pride__1342.txt", "pride__old_pandp12.txt", "pride__old_pandp09.txt"]
    texts = [open(os.path.join(EDITIONS, f), encoding="utf-8", errors="replace").read() for f in files]
    inp = write_shards(tmp_path / "in", [{"id": files[:4], "text": texts[:4]}, {"id": files[4:], "text": texts[4:]}])
    kept, drops, stats = run(client, "dedupe_fuzzy", {"exact": True}, inp, str(tmp_path / "out"))
    # one copy of each book survives; the FTP listing shipped as pandp09 is not a duplicate
    assert sorted(k.split("__")[0] for k in kept) == ["frankenstein", "pride", "pride"]
    assert kept["pride__old_pandp09.txt"]["dup_cluster"] is None
    assert {d["duplicate_of"].split("__")[0] for d in drops.values()} == {"frankenstein", "pride"}
    assert stats["dropped_by_reason"] == {"near_duplicate": 3}


def test_gristmill_dedupe_command(tmp_path):
    inp = write_shards(tmp_path / "in", [{"id": ["a", "b"], "text": ["Same text, here.", "other"]},
                                         {"id": ["c"], "text": ["same TEXT here"]}])
    out = tmp_path / "out"
    assert cli.main(["dedupe", inp, "--out", str(out), "--workers", "1", "--quiet"]) == 0
    stats = json.load(open(out / "stats.json"))
    assert stats["stage"] == "dedupe_fuzzy@1" and stats["params"]["exact"] is True
    assert stats["docs_in"] == 3 and stats["dropped_by_reason"] == {"exact_duplicate": 1}
    drops = pq.read_table(out / "dropped" / "part-00001.parquet").to_pylist()
    assert drops[0]["id"] == "c" and drops[0]["duplicate_of"] == "a" and drops[0]["dup_cluster"] == "fuzzy:a"


def test_positioned_reads_keep_few_files_open(tmp_path):
    import os

    import numpy as np

    from gristmill.filters.dedupe.fuzzy import NpyFiles, ShingleSetReader

    (tmp_path / "sets").mkdir()
    sets = {s: [np.arange(s, s + k, dtype=np.uint32) for k in (3, 0, 5)] for s in range(3)}
    for s, per_doc in sets.items():
        np.save(tmp_path / "sets" / f"part-{s:05d}.npy", np.concatenate(per_doc))
        np.save(tmp_path / "sets" / f"offsets-{s:05d}.npy", np.r_[0, np.cumsum([len(d) for d in per_doc])].astype(np.int64))
    reader = ShingleSetReader(str(tmp_path))
    reader.sets.max_open = reader.offsets.max_open = 2
    for s in (0, 1, 2, 0, 2):
        for row, want in enumerate(sets[s]):
            assert reader.get((s << 32) | row).tolist() == want.tolist()
    assert len(reader.sets.open) == 2 and list(reader.sets.open) == [0, 2]
    files = NpyFiles(str(tmp_path / "sets"), "part-{:05d}.npy", max_open=1)
    fd, start, shape = files.get(1)
    assert shape == (8,) and np.frombuffer(os.pread(fd, 12, start), np.uint32).tolist() == [1, 2, 3]
    files.close()
    assert not files.open


def test_fuzzy_state_keeps_only_what_its_verify_reads(client, tmp_path):
    """verify=jaccard reads shingle sets, verify=minhash signatures: each writes only its own
    (signatures are 4 bytes x bands x rows a document, 4 GB at 10M documents, README Scale)."""
    words = [f"w{i}" for i in range(60)]
    base = " ".join(words)
    inp = write_shards(tmp_path / "in", [{"id": ["a", "b", "c"],
                                          "text": [base, base + " tail", " ".join(reversed(words))]}])
    for verify, has, lacks in (("jaccard", "sets", "sigs"), ("minhash", "sigs", "sets")):
        out = tmp_path / verify
        kept, drops, _ = run(client, "dedupe_fuzzy", {"verify": verify}, inp, str(out))
        assert set(drops) == {"a"} and drops["a"]["duplicate_of"] == "b"
        state = out / "_state"
        assert os.listdir(state / has) and not os.path.exists(state / lacks)


@pytest.mark.parametrize("stage", ["dedupe_exact"])  # "dedupe_fuzzy" passes too, in minutes (48 band partitions)
def test_decisions_are_one_file_per_shard_whatever_the_partitions(client, tmp_path, monkeypatch, stage):
    """Decision rows are shuffled on their shard before they are written: a shard's folder holds
    one file, not one per group partition (shards x partitions files grow with the square of the
    corpus), and the decisions do not depend on the partitioning. Both stages write them through
    state.write_decisions_by_shard."""
    from gristmill.filters.dedupe import state

    texts = [" ".join(f"w{(i * 7 + j) % 40}x{i}" for j in range(30)) for i in range(6)]
    shards = [{"id": [f"s{s}d{d}" for d in range(6)], "text": [texts[(s + d) % 6] for d in range(6)]}
              for s in range(4)]
    inp = write_shards(tmp_path / "in", shards)
    kept1, drops1, stats1 = run(client, stage, {}, inp, str(tmp_path / "one"))
    # exact: 24 documents in 8 group partitions; fuzzy: 18 verified pairs -> 36 rows in 4 cluster
    # partitions (its 480 band rows in 48: smaller partitions only make the test slow)
    monkeypatch.setattr(state, "ROWS_PER_PARTITION", 3 if stage == "dedupe_exact" else 10)
    kept8, drops8, stats8 = run(client, stage, {}, inp, str(tmp_path / "eight"))
    assert set(kept8) == set(kept1) and len(kept8) == 6 and drops8 == drops1
    assert stats8["dropped_by_reason"] == {"exact_duplicate": 18}
    folders = sorted(glob.glob(str(tmp_path / "eight" / "_state" / "decisions" / "shard-*")))
    assert len(folders) == 4 and all(len(os.listdir(f)) == 1 for f in folders)
    assert not os.path.exists(tmp_path / "eight" / "_state" / state.DECISION_ROWS)  # staging removed
