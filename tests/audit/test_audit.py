"""The licensing audit of a small run whose content is known by construction
(tests/audit/fixture_run.py): every number is recounted here from the run's own files."""

from __future__ import annotations

import csv
import json
import math
import os

import polars as pl
import pytest

from gristmill.pipeline.audit.audit import FILES, build_audit, write_audit
from gristmill.pipeline.cli import main
from gristmill.tokenize import shard_format as sf
from tests.audit import fixture_run as fx


def _index(workdir: str, split: str = "train") -> pl.DataFrame:
    folder = os.path.join(workdir, "shards")
    m = sf.read_manifest(folder)
    frames = [pl.from_arrow(sf.read_index(sf.index_path(folder, split, i)))
              for i in range(len(m["splits"][split]["shards"]))]
    return pl.concat(frames).with_columns((pl.col("length") + 1).alias("tokens"))


@pytest.fixture(scope="module")
def audit_dir(fixture_run, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("audit_cli"))
    assert main(["audit", fixture_run, "--out", out, "--strict"]) == 0
    return out


@pytest.fixture(scope="module")
def audit(audit_dir):
    with open(os.path.join(audit_dir, "audit.json")) as f:
        return json.load(f)


def test_every_file_is_written_and_audit_json_is_byte_stable(fixture_run, audit_dir, tmp_path):
    for name in FILES:
        assert os.path.getsize(os.path.join(audit_dir, name)) > 0, name
    again = str(tmp_path / "again")
    write_audit(build_audit(fixture_run), again)
    assert open(os.path.join(again, "audit.json"), "rb").read() == open(os.path.join(audit_dir, "audit.json"), "rb").read()
    # the sink inside the workflow wrote the same audit (it ran before the report step existed)
    sink = json.load(open(os.path.join(fixture_run, "audit", "audit.json")))
    assert sink["licenses"] == json.load(open(os.path.join(again, "audit.json")))["licenses"]


def test_ledger_is_recounted_from_the_token_index(fixture_run, audit):
    idx = _index(fixture_run)
    by_lic = idx.with_columns(pl.col("license").fill_null("unknown")).group_by("license").agg(
        pl.col("tokens").sum().alias("t"), pl.col("doc_id").n_unique().alias("d"))
    want = {r["license"]: (r["t"], r["d"]) for r in by_lic.to_dicts()}
    got = {r["license"]: (r["mixture_tokens"], r["documents"]) for r in audit["licenses"]}
    assert got == want
    assert "unknown" in got  # documents without licence evidence get their own row
    assert sum(t for t, _ in got.values()) == audit["levels"]["mixture_tokens"] == int(idx["tokens"].sum())
    row = {r["license"]: r for r in audit["licenses"]}
    assert row["CC-BY-SA-4.0"]["share_alike"] and row["CC-BY-SA-4.0"]["attribution"]
    assert row["CC0-1.0"]["attribution"] is False and row["CC0-1.0"]["use"] == "all"
    assert row["CC-BY-4.0"]["found_by"].get("rel_license_link", 0) >= 1
    assert row["CC-BY-SA-4.0"]["found_by"] == {"meta_tag": row["CC-BY-SA-4.0"]["documents"]}
    assert row["unknown"]["found_by"] == {"none": row["unknown"]["documents"]}
    assert all(math.isclose(r["share"], r["mixture_tokens"] / audit["levels"]["mixture_tokens"], abs_tol=1e-6)
               for r in audit["licenses"])


def test_three_levels_and_trained_tokens_match_the_trainer(fixture_run, audit):
    lv = audit["levels"]
    idx = _index(fixture_run)
    assert lv["unique_tokens"] == int(idx.unique("doc_id").select(pl.col("tokens").sum()).item())
    assert lv["unique_tokens"] <= lv["mixture_tokens"]
    log = [json.loads(x) for x in open(os.path.join(fixture_run, "train", "run", "train_log.jsonl"))]
    assert lv["trained_steps"] == fx.TRAIN_STEPS
    assert lv["trained_tokens"] == log[-1]["tokens_seen"] == fx.TRAIN_STEPS * fx.TRAIN["batch_size"] * fx.TRAIN["block_size"]
    assert sum(r["trained_tokens"] for r in audit["licenses"]) == lv["trained_tokens"]


def test_checks_all_pass(audit):
    names = {c["name"]: c["pass"] for c in audit["checks"]}
    assert set(names) >= {"tokens_per_license_sum_to_mixture_total", "every_kept_document_has_a_license_row",
                          "no_opted_out_token", "in_equals_out_plus_dropped_per_step",
                          "top_domains_list_size_and_sums", "trained_tokens_match_trainer_log"}
    assert all(names.values()), audit["checks"]


def test_optouts_per_signal(audit):
    removed = {r["signal"]: r for r in audit["optouts"]["removed"]}
    assert {s: r["documents"] for s, r in removed.items()} == {"robots:GPTBot": 3, "noai": 2, "tdm-reservation": 1}
    assert removed["robots:GPTBot"]["domains"] == 3 and removed["robots:GPTBot"]["steps"] == ["license"]
    assert all(r["est_tokens"] > 0 for r in removed.values())
    kept = {r["signal"]: r for r in audit["optouts"]["in_mixture"]}
    assert set(kept) <= {"noimageai"} and all(not r["reserves_text_mining"] for r in kept.values())
    assert audit["optouts"]["text_optout_tokens_in_mixture"] == 0
    assert "GPTBot" in audit["optouts"]["signals_checked"]["robots_txt_agents"]


def test_exclusions_keep_dedupe_apart(audit_dir, audit):
    ex = pl.read_parquet(os.path.join(audit_dir, "exclusions.parquet"))
    assert len(ex) == 6 + len(fx.LOW_SCORE) + 1
    kinds = {(r["step"], r["reason"]): r["kind"] for r in audit["exclusions"]}
    assert kinds[("dedupe_exact", "exact_duplicate")] == "dedupe"
    assert kinds[("select", "below_threshold")] == "filter"
    dup = ex.filter(pl.col("kind") == "dedupe").row(0, named=True)
    assert dup["id"] == "dupB" and dup["duplicate_of"] == "dupA" and dup["license"] == "CC-BY-NC-4.0"


def test_license_conflict_in_a_duplicate_cluster(audit):
    (c,) = audit["conflicts"]
    assert c["kept_id"] == "dupA" and c["licenses"] == ["CC-BY-4.0", "CC-BY-NC-4.0"]
    assert c["governing_license"] == "CC-BY-NC-4.0" and c["kept_carries_governing"] is False


def test_synthetic_lineage(fixture_run, audit):
    in_train = set(_index(fixture_run)["doc_id"].to_list())
    want = {d["id"]: d for d in fx.documents() if d["parent_id"] and d["id"] in in_train}
    assert want, "the fixture's train split should hold a synthetic row"
    rows = {r["id"]: r for r in audit["lineage"]}
    assert set(rows) == set(want)
    parents = {d["id"]: d for d in fx.documents()}
    for doc_id, r in rows.items():
        assert r["parent_id"] == want[doc_id]["parent_id"]
        assert r["parent_license"] == parents[r["parent_id"]]["license"]
        assert r["generator"] == "tinygen-v1/prompt-3" and r["nd_ancestors"] == []


def test_lineage_finds_an_nd_ancestor_two_levels_up():
    from gristmill.pipeline.audit.ledger import lineage

    mix = {"s2": {"mixture": 5}}
    docs = {"s2": {"parent_id": "s1", "license": "CC-BY-4.0", "generator": "g"}}
    ancestors = {"s1": {"parent_id": "p0", "license": "CC-BY-4.0"}, "p0": {"parent_id": None, "license": "CC-BY-ND-4.0"}}
    (r,) = lineage(mix, docs, ancestors)
    assert r["ancestors"] == 2 and r["nd_ancestors"] == ["p0"] and r["inherited_license"] == "CC-BY-ND-4.0"


def test_top_domains_and_attribution(fixture_run, audit_dir, audit):
    top = audit["top_domains"]
    assert top["domains_total"] == 12 and top["listed"] == math.ceil(0.1 * 12) == 2
    rows = list(csv.DictReader(open(os.path.join(audit_dir, "top_domains.csv"))))
    assert [r["domain"] for r in rows] == ["d00.example.org", "d01.example.org"]
    # sizes: UTF-8 bytes of every input document of the domain, recounted from the inputs
    size = {}
    for d in fx.documents():
        if d["domain"]:
            size[d["domain"]] = size.get(d["domain"], 0) + len(d["text"].encode())
    assert [int(r["bytes"]) for r in rows] == sorted(size.values(), reverse=True)[:2]
    att = list(csv.DictReader(open(os.path.join(audit_dir, "attribution.csv"))))
    idx = _index(fixture_run).unique("doc_id")
    need = idx.filter(pl.col("license").is_in(["CC-BY-4.0", "CC-BY-SA-4.0", "MIT", "CC-BY-NC-4.0"]))
    assert sorted(r["id"] for r in att) == sorted(need["doc_id"].to_list())
    assert all(r["license_url"] and r["modified"] for r in att)


def test_eu_summary_fills_what_it_can_and_marks_the_rest(audit_dir, audit):
    s = json.load(open(os.path.join(audit_dir, "eu_summary.json")))
    crawled = s["2_list_of_data_sources"]["2.3_crawled_data"]
    assert crawled["top_domains"] == [r["domain"] for r in audit["top_domains"]["rows"]]
    assert s["1_general_information"]["1.3_modality_and_size"]["size_bin"] == "less than 1 billion tokens"
    assert s["1_general_information"]["1.1_provider"].startswith("MANUAL")
    assert s["3_data_processing_aspects"]["3.1_tdm_opt_out_measures"]["documents_removed_per_signal"] == \
        {"noai": 2, "robots:GPTBot": 3, "tdm-reservation": 1}
    md = open(os.path.join(audit_dir, "eu_summary.md")).read()
    assert "MANUAL" in md and "d00.example.org" in md
    card = open(os.path.join(audit_dir, "dataset_card.md")).read()
    import yaml

    header = yaml.safe_load(card.split("---")[1])
    assert "cc-by-4.0" in header["license"] and header["source_datasets"] == ["original"]


def test_croissant_validates_with_mlcroissant(audit_dir):
    mlc = pytest.importorskip("mlcroissant")
    path = os.path.join(audit_dir, "croissant.json")
    ds = mlc.Dataset(jsonld=path)  # raises on a structural error
    assert ds.metadata.name.startswith("gristmill-")
    assert not ds.metadata.ctx.issues.errors and not ds.metadata.ctx.issues.warnings
    doc = json.load(open(path))
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.0"
    assert [f["name"] for f in doc["recordSet"][0]["field"]][:3] == ["offset", "length", "doc_id"]
    assert "rai:dataCollection" in doc


def test_audit_of_a_token_folder_alone(fixture_run):
    """WORKDIR_OR_TOKENIZED: given the token folder, the audit finds its workdir (the parent)."""
    assert build_audit(os.path.join(fixture_run, "shards")).data == build_audit(fixture_run).data


def test_checks_fail_when_the_numbers_do_not_add_up(fixture_run):
    """The checks compare numbers, they do not just report them: break one input of each."""
    import copy

    from gristmill.pipeline.audit import tokens as T
    from gristmill.pipeline.audit.audit import checks
    from gristmill.pipeline.audit.workdir import read_manifest, read_train_log

    a = build_audit(fixture_run)
    run = a.run
    args = (run, T.index_table(run.token_dir), read_manifest(run.token_dir), read_train_log(run.train_dir))
    data = copy.deepcopy(a.data)
    data["licenses"] = data["licenses"][1:]                         # a licence row lost
    data["optouts"]["text_optout_tokens_in_mixture"] = 7            # an opted-out document kept
    data["balance"][0]["docs_dropped"] += 1
    data["balance"][0]["balanced"] = False                          # a step that lost a document
    data["top_domains"]["rows"] = data["top_domains"]["rows"][:1]   # one domain short
    failed = {c["name"] for c in checks(data, *args) if not c["pass"]}
    assert failed >= {"tokens_per_license_sum_to_mixture_total", "every_kept_document_has_a_license_row",
                      "no_opted_out_token", "in_equals_out_plus_dropped_per_step", "top_domains_list_size_and_sums"}


def test_audit_of_a_gristmill_tokenize_folder(fixture_run, dask_client, tmp_path):
    """A `gristmill tokenize IN --out DIR` folder (documents, tokenizer and token shards in one
    folder, no workdir around it) is audited on its own."""
    from gristmill.pipeline import runner, workflow
    from gristmill.pipeline.layout import list_parts

    out = str(tmp_path / "tokenized")
    wf = workflow.build({"name": "tokenize", "inputs": list_parts(os.path.join(fixture_run, "dedupe_exact")),
                         "steps": [{"name": "tokenize", "stage": "tokenize@1", "params": {"vocab_size": 320}},
                                   {"name": "shards", "stage": "token_shards@1", "params": {"val_fraction": 0.0}}]},
                        base_dir=str(tmp_path))
    runner.run(wf, out_dirs={"tokenize": out, "shards": out}, client=dask_client, quiet=True)
    a = build_audit(out).data
    kept = pl.read_parquet(list_parts(out))
    assert a["levels"]["unique_documents"] == len(kept)
    assert a["levels"]["mixture_tokens"] == int(kept["n_tokens"].sum()) + len(kept)  # + one EOS each
    assert all(c["pass"] for c in a["checks"]), a["checks"]
    assert a["run"]["token_folder"] in (".", "tokenized")
