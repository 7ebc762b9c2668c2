"""rephrase@1 end to end against the loopback test double: faults, checks, policy, accounting,
cache and resume, lineage into the token shards."""

import json
import os
import shutil

import pyarrow as pa
import pyarrow.parquet as pq

from gristmill.pipeline.cli import main
from tests.support.loopback_llm import LoopbackLLM

BASE = ("The Eiffel Tower in Paris was completed in 1889 for the World Fair and stands 330 metres tall. "
        "Gustave Eiffel and his company designed the iron lattice structure over two years. About 7 million "
        "people visit it each year, and it was the tallest building in the world until 1930 when the Chrysler "
        "Building in New York was finished. Maurice Koechlin drew the first sketches in 1884.")

FAULTS = {"good": "", "r429": "[[fault:429x2]]", "r500": "[[fault:500x1]]", "reset": "[[fault:resetx1]]",
          "badjson": "[[fault:badjsonx1]]", "loop": "[[fault:loop]]", "bad400": "[[fault:400]]",
          "length": "[[fault:length]]", "copy": "[[fault:copy]]", "noprefix": "[[fault:noprefix]]",
          "refusal": "[[fault:refusal]]", "lostnum": "[[fault:lostnum]]", "invent": "[[fault:invent]]",
          "short": "[[fault:short]]"}
EXPECTED_DROPS = {"bad400": "rejected_by_server", "length": "truncated", "copy": "copy", "noprefix": "missing_prefix",
                  "refusal": "refusal", "lostnum": "lost_numbers", "invent": "invented_numbers", "short": "too_short"}
# never sent: no derivatives, opted out, no licence under require_license
POLICY = {"nd": ("CC-BY-ND-4.0", None), "ncnd": ("CC-BY-NC-ND-4.0", None), "optout": ("CC-BY-4.0", ["noai"]),
          "nolicense": (None, None)}


def corpus(path):
    rows = []
    for name, marker in FAULTS.items():
        rows.append({"id": name, "text": f"{marker} {name.upper()} document. {BASE}", "url": f"https://x.org/{name}",
                     "license": "CC-BY-SA-4.0", "opt_out": None, "source": "web"})
    for name, (lic, opt) in POLICY.items():
        rows.append({"id": name, "text": f"POLICY{name} {BASE}", "url": f"https://x.org/{name}", "license": lic,
                     "opt_out": opt, "source": "web"})
    os.makedirs(path, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), os.path.join(path, "part-00000.parquet"))
    return path


def run(inp, out, url, *extra):
    similarity = [] if "--similarity" in extra else ["--no-similarity"]
    assert main(["rephrase", inp, "--out", out, "--endpoint", url, "--model", "m", "--temperature", "0",
                 "--require-license", *similarity, "--workers", "1", "--quiet", *extra]) == 0
    return json.load(open(os.path.join(out, "stats.json")))


def read(out):
    kept = pq.read_table(os.path.join(out, "part-00000.parquet"))
    drops = pq.read_table(os.path.join(out, "dropped", "part-00000.parquet"))
    return kept, drops


def test_faults_checks_policy_and_counts(tmp_path):
    inp = corpus(str(tmp_path / "in"))
    with LoopbackLLM() as srv:
        stats = run(inp, str(tmp_path / "out"), srv.url, "--max-new-tokens", "400", "--similarity")
        received = srv.received
        sent_docs = set(srv.by_document)
    kept, drops = read(str(tmp_path / "out"))
    rows = kept.to_pylist()
    originals = [r for r in rows if r["parent_id"] is None]
    synthetic = {r["parent_id"]: r for r in rows if r["parent_id"] is not None}
    # the input documents, unchanged
    assert [r["id"] for r in originals] == list(FAULTS) + list(POLICY)
    src = pq.read_table(os.path.join(inp, "part-00000.parquet")).to_pylist()
    assert [r["text"] for r in originals] == [r["text"] for r in src]
    # retried faults and the loop (resent at a higher temperature) end accepted
    assert set(synthetic) == {"good", "r429", "r500", "reset", "badjson", "loop"}
    loop = json.loads(synthetic["loop"]["generator"])
    assert loop["sampling"]["temperature"] >= 0.6 and "cat sat" not in synthetic["loop"]["text"]
    # every other generation is rejected with its own reason
    got = {r["id"]: r["reason"] for r in drops.to_pylist()}
    assert sorted(got.values()) == sorted(EXPECTED_DROPS.values())
    # policy: those documents never reached the server
    assert not any(k.startswith("POLICY") for k in sent_docs)
    assert stats["counters"]["not_sent_license_no_derivatives"] == 2
    assert stats["counters"]["not_sent_opted_out"] == 1 and stats["counters"]["not_sent_license_unknown"] == 1
    # accounting: originals in == out + dropped; generated == accepted + rejected
    c = stats["counters"]
    assert c["originals_in"] == c["originals_out"] + c["originals_dropped"] == len(FAULTS) + len(POLICY)
    assert c["generated"] == c["accepted"] + c["rejected"] == len(FAULTS)
    assert stats["docs_in"] + stats["generated"] == stats["docs_out"] + stats["docs_dropped"] and stats["balanced"]
    fit = stats["fit"]
    assert fit["http_status"]["429"] == 2 and fit["http_status"]["500"] == 1 and fit["retried"] >= 5
    assert received == fit["http_requests"]
    # lineage and licence of a synthetic row
    g = synthetic["good"]
    assert g["source"] == "synthetic-wiki" and g["parent_source"] == "web"
    assert g["parent_url"] == "https://x.org/good" and g["parent_license"] == "CC-BY-SA-4.0"
    assert g["license"] == "CC-BY-SA-4.0"  # ShareAlike carries over
    gen = json.loads(g["generator"])
    assert gen["model"] == "loopback-double" and gen["style"] == "wiki@1" and len(gen["prompt_hash"]) == 12
    assert not g["text"].startswith("Here is")  # prefix stripped
    assert 0 <= g["rephrase_copy"] < 0.8 and g["rephrase_lost_numbers"] == 0
    assert all(r["rephrase_similarity"] > 0.6 for r in synthetic.values())  # all-MiniLM-L6-v2 cosine


def test_rerun_and_resume_send_nothing_and_are_byte_identical(tmp_path):
    inp = corpus(str(tmp_path / "in"))
    out = str(tmp_path / "out")
    with LoopbackLLM() as srv:
        run(inp, out, srv.url)
        first = srv.received
        before = open(os.path.join(out, "part-00000.parquet"), "rb").read()
        # a killed run: the answers are cached, nothing else is left
        for name in os.listdir(out):
            if name != "_state":
                p = os.path.join(out, name)
                shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
        os.unlink(os.path.join(out, "_state", "_fitted"))
        stats = run(inp, out, srv.url)
        assert srv.received == first  # no request sent twice
        assert stats["fit"]["requests_cached"] == stats["fit"]["requests"] > 0
        assert open(os.path.join(out, "part-00000.parquet"), "rb").read() == before
        # a fresh run at T=0: the same bytes
        run(inp, str(tmp_path / "again"), srv.url)
        assert open(os.path.join(tmp_path / "again", "part-00000.parquet"), "rb").read() == before


def test_locate_on_a_synthetic_token_names_the_parent(tmp_path, capsys):
    from gristmill.tokenize.shard_format import INDEX_SCHEMA, index_path, read_index

    inp = corpus(str(tmp_path / "in"))
    with LoopbackLLM() as srv:
        run(inp, str(tmp_path / "reph"), srv.url, "--max-docs", "3")
    assert main(["tokenize", str(tmp_path / "reph"), "--out", str(tmp_path / "tok"), "--vocab-size", "300",
                 "--val-fraction", "0", "--workers", "1", "--quiet"]) == 0
    index = read_index(index_path(str(tmp_path / "tok"), "train", 0))
    rows = index.to_pylist()
    syn = next(r for r in rows if r["parent_id"] is not None)
    capsys.readouterr()
    assert main(["locate", str(tmp_path / "tok"), "0", str(syn["offset"] + 1)]) == 0
    where = json.loads(capsys.readouterr().out)
    assert where["doc_id"] == syn["doc_id"] and where["source"].startswith("synthetic-")
    assert where["parent_id"] in FAULTS and where["parent_url"] == f"https://x.org/{where['parent_id']}"
    assert where["parent_license"] == "CC-BY-SA-4.0" and json.loads(where["generator"])["style"] == "wiki@1"
    # a corpus without synthetic rows keeps the nine-column index
    assert main(["tokenize", inp, "--out", str(tmp_path / "tok0"), "--vocab-size", "300", "--workers", "1",
                 "--quiet"]) == 0
    assert read_index(index_path(str(tmp_path / "tok0"), "train", 0)).schema.names == INDEX_SCHEMA.names
