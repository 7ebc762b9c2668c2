"""Every input the fuzzer ever found a crash with (tests/fuzz/fuzz_corpus/<target>/*.bin, the
signature it had beside it in *.json) now passes its target: no exception, every record a
document or a counted drop, ids unique. Plus what the fixes must do on those inputs."""

from __future__ import annotations

import glob
import gzip
import json
import os

import pytest

from tests.fuzz.engine import run_inline
from tests.fuzz.targets import TARGETS

CORPUS = os.path.join(os.path.dirname(__file__), "fuzz_corpus")
CASES = sorted(glob.glob(os.path.join(CORPUS, "*", "*.bin")))
_READY: set[str] = set()


def _target(name: str):
    t = TARGETS[name]
    if name not in _READY:
        t.setup()
        _READY.add(name)
    return t


def test_corpus_is_there():
    assert {os.path.basename(os.path.dirname(p)) for p in CASES} >= {"warc", "jsonl", "parquet"}
    for p in CASES:
        with open(p[:-4] + ".json") as f:
            assert json.load(f)["signature"]  # what it crashed with before the fix
        assert os.path.getsize(p) < 64 * 1024  # small files only


@pytest.mark.parametrize("path", CASES, ids=lambda p: os.path.relpath(p, CORPUS))
def test_corpus_case(path, shared_data):
    name = os.path.basename(os.path.dirname(path))
    with open(path, "rb") as f:
        data = f.read()
    out = run_inline(_target(name), data)
    with open(path[:-4] + ".json") as f:
        before = json.load(f)["signature"]
    assert out.ok, f"{name}: was {before!r}, now {out.signature}: {out.detail}"


def _corpus_file(target: str, name: str) -> bytes:
    with open(os.path.join(CORPUS, target, name), "rb") as f:
        return f.read()


def _read(path: str):
    from gristmill.pipeline.ingest.readers import ReadDocuments

    return ReadDocuments().process_file(str(path))


def test_jsonl_stream_that_breaks_keeps_what_came_before(tmp_path):
    # enough lines for several deflate blocks and several 1 MiB reads before the damage
    lines = b"".join(b'{"id": "d%d", "text": "document number %d %d"}\n' % (i, i, i * 7919 % 1000003)
                     for i in range(200_000))
    data = bytearray(gzip.compress(lines))
    data[len(data) // 2] ^= 0xFF  # a damaged deflate block in the middle
    p = tmp_path / "broken.jsonl.gz"
    p.write_bytes(bytes(data))
    out = _read(p)
    reasons = out.drops.column("reason").to_pylist()
    assert reasons.count("read_error") == 1
    assert 0 < out.table.num_rows < 200_000  # the lines before the break are kept
    assert out.records_in == out.table.num_rows + out.drops.num_rows


def test_jsonl_gzip_that_fails_before_its_first_byte_is_an_unreadable_file(tmp_path):
    p = tmp_path / "bad.jsonl.gz"
    p.write_bytes(b"\x1f\x8b\x08\x00garbage, not gzip")
    out = _read(p)
    assert out.drops.column("reason").to_pylist() == ["unreadable_file"]
    assert (out.records_in, out.table.num_rows) == (1, 0)


def test_parquet_invalid_utf8_and_null_ids_are_repaired(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    for name in ("7ef3446bcfca.bin", "1568772c1e04.bin"):
        p = tmp_path / f"{name}.parquet"
        p.write_bytes(_corpus_file("parquet", name))
        out = _read(p)
        out.table.validate(full=True)  # all strings valid UTF-8
        assert out.table.column("id").null_count == 0
    # a file whose footer is gone is one counted row, not an exception
    p = tmp_path / "cut.parquet"
    buf = pa.BufferOutputStream()
    pq.write_table(pa.table({"id": ["a"], "text": ["b"]}), buf)
    p.write_bytes(buf.getvalue().to_pybytes()[:-9])
    out = _read(p)
    assert out.drops.column("reason").to_pylist() == ["unreadable_file"] and out.records_in == 1


def test_records_at_one_offset_get_their_own_ids(shared_data, tmp_path):
    """A single-stream gzip WARC (FastWARC's offsets are compressed positions, shared) and the
    fuzzed file where FastWARC reads one offset twice: every record its own id, nothing lost."""
    from gristmill.pipeline.ingest.stage import Ingest

    stage = Ingest()
    single = os.path.join(shared_data, "warc", "warcio", "test", "data", "example-bad-non-chunked.warc.gz")
    p = tmp_path / "same_offset.warc.gz"
    p.write_bytes(_corpus_file("warc", "fastwarc_same_offset.bin"))
    for path in (single, str(p)):
        out, _ = stage.read_file(path)
        offsets = out.drops.column("origin_offset").to_pylist() + out.table.column("origin_offset").to_pylist()
        ids = out.drops.column("id").to_pylist() + out.table.column("id").to_pylist()
        assert len(set(offsets)) < len(offsets)  # offsets shared ...
        assert len(set(ids)) == len(ids) == out.records_in  # ... ids not
