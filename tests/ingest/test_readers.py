import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq

from gristmill.pipeline.ingest.readers import ReadDocuments


def test_jsonl_bad_lines_are_dropped_with_reasons_and_counted(tmp_path):
    p = tmp_path / "docs.jsonl.gz"
    lines = [json.dumps({"id": "a", "text": "hello", "source": "web", "url": "http://x"}),
             "{not json", json.dumps({"id": "c", "text": None}), json.dumps([1, 2]),
             "", json.dumps({"text": "no id here"})]
    with gzip.open(p, "wt") as f:
        f.write("\n".join(lines) + "\n")
    out = ReadDocuments(source="default").process_file(str(p))
    assert out.records_in == 5  # blank line is not a record
    assert out.table.num_rows + out.drops.num_rows == out.records_in
    assert sorted(out.drops.column("reason").to_pylist()) == ["invalid_json", "invalid_json", "missing_text"]
    rows = out.table.to_pylist()
    assert rows[0]["id"] == "a" and rows[0]["source"] == "web" and rows[0]["origin_offset"] == 0
    assert rows[1]["source"] == "default" and len(rows[1]["id"]) == 16  # derived from origin
    assert all(r["origin_file"] == str(p) for r in rows)


def test_parquet_with_only_id_and_text_and_null_text(tmp_path):
    p = tmp_path / "x.parquet"
    pq.write_table(pa.table({"id": ["1", "2"], "text": ["t", None], "extra": [1, 2]}), p)
    out = ReadDocuments().process_file(str(p))
    assert out.table.column("id").to_pylist() == ["1"]
    assert out.table.column("extra").to_pylist() == [1]
    assert out.drops.column("reason").to_pylist() == ["missing_text"]


def test_parquet_without_text_column_is_dropped_whole(tmp_path):
    p = tmp_path / "x.parquet"
    pq.write_table(pa.table({"id": ["1", "2"]}), p)
    out = ReadDocuments().process_file(str(p))
    assert out.table.num_rows == 0 and out.drops.num_rows == 2 == out.records_in


def test_plain_text_file_is_one_document(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("some words")
    out = ReadDocuments(source="books", default_license="CC0-1.0").process_file(str(p))
    assert out.table.to_pylist()[0]["license"] == "CC0-1.0"
    assert out.records_in == 1


def test_plain_text_in_latin_1_keeps_its_accents(tmp_path):
    """NLTK's Genesis ships French, German and Finnish in Latin-1. Read as UTF-8 with
    replacement (before), french.txt had 5,251 U+FFFD and no accent left; the charset is now
    found as ingest finds it for text/plain (strict UTF-8, else uchardet) and kept in meta."""
    import os

    import pytest

    genesis = os.path.join("..", "shared", "data", "text", "nltk_genesis", "genesis")
    if not os.path.isdir(genesis):
        pytest.skip("../shared/data/text/nltk_genesis is absent")
    for name, word in (("french", "Dieu créa"), ("german", "wüst und leer"), ("finnish", "tyhjä")):
        (doc,) = ReadDocuments().process_file(os.path.join(genesis, f"{name}.txt")).table.to_pylist()
        assert "\ufffd" not in doc["text"] and word in doc["text"], name
        assert dict(doc["meta"])["charset"] == "cp1252"
    (doc,) = ReadDocuments().process_file(os.path.join(genesis, "portuguese.txt")).table.to_pylist()
    assert dict(doc["meta"])["charset"] == "utf-8" and "princípio" in doc["text"]
    p = tmp_path / "crlf.txt"
    p.write_bytes("caf\u00e9\r\nna\u00efve\r".encode("cp1252"))
    (doc,) = ReadDocuments().process_file(str(p)).table.to_pylist()
    assert doc["text"] == "café\nnaïve\n"  # universal newlines, as before


def test_read_command_takes_the_text_and_id_fields_of_other_layouts(tmp_path):
    """HumanEval's JSONL has no `text` field: by default every line is a counted
    `missing_text` drop; `--text-key prompt --id-key task_id` reads them all."""
    import os

    import pytest

    from gristmill.pipeline.cli import main

    src = os.path.join("..", "shared", "data", "text", "humaneval_code", "HumanEval.jsonl.gz")
    if not os.path.exists(src):
        pytest.skip("../shared/data/text/humaneval_code is absent")
    assert main(["read", src, "--out", str(tmp_path / "a"), "--workers", "1", "--quiet"]) == 0
    stats = json.loads((tmp_path / "a" / "stats.json").read_text())
    assert stats["docs_out"] == 0 and stats["dropped_by_reason"] == {"missing_text": 164}
    assert main(["read", src, "--out", str(tmp_path / "b"), "--workers", "1", "--quiet", "--text-key", "prompt",
                 "--id-key", "task_id", "--default-license", "MIT"]) == 0
    docs = pq.read_table(tmp_path / "b" / "part-00000.parquet").to_pylist()
    assert len(docs) == 164 and docs[0]["id"] == "HumanEval/0" and docs[0]["text"].startswith("from typing")
    assert {d["license"] for d in docs} == {"MIT"}


def test_parquet_takes_the_configured_fields_and_derives_missing_ids(tmp_path):
    p = tmp_path / "x.parquet"
    pq.write_table(pa.table({"content": ["def f(): pass", "x = 1"], "text": ["old", "old"], "n": [1, 2]}), p)
    out = ReadDocuments(text_key="content").process_file(str(p))
    assert out.table.column("text").to_pylist() == ["def f(): pass", "x = 1"] and out.records_in == 2
    ids = out.table.column("id").to_pylist()
    assert len(set(ids)) == 2 and all(ids) and ReadDocuments(text_key="content").process_file(str(p)).table.column(
        "id").to_pylist() == ids  # derived from file and row: the same on every run
    q = tmp_path / "y.parquet"
    pq.write_table(pa.table({"doc_id": [7, 8], "text": ["a", "b"]}), q)
    assert ReadDocuments(id_key="doc_id").process_file(str(q)).table.column("id").to_pylist() == ["7", "8"]
