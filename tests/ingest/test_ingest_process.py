"""`gristmill ingest --workers 1` as users run it: in process, the same files as on a
cluster, its phases timed; and the faster paths inside ingest give the same text."""

from __future__ import annotations

import copy
import filecmp
import gzip
import json
import os
import shutil
import sys

import pytest

from gristmill.pipeline import runner, timing
from gristmill.pipeline.cli import main
from gristmill.pipeline.ingest import licenses, optout
from gristmill.pipeline.ingest.extract import COPY_SWITCH_VERSIONS, get_engine
from gristmill.pipeline.ingest.stage import Ingest
from gristmill.pipeline.workflow import Step, Workflow
from tests.support.paths import REPO, SHARED_DATA

WARCS = [os.path.join(SHARED_DATA, "warc", p) for p in (
    "aut/src/test/resources/warc/example.pdf.warc.gz",    # HTML, scripts, images, 2 PDFs (the queue)
    "resiliparse/tests/data/warcfile.warc.gz",            # gb2312, windows-1251, ... pages
)]
EVAL = os.path.join(SHARED_DATA, "html", "trafilatura_eval")
needs_warcs = pytest.mark.skipif(not all(map(os.path.exists, WARCS)), reason="../shared/data/warc is absent")
needs_eval = pytest.mark.skipif(not os.path.exists(EVAL), reason="../shared/data/html/trafilatura_eval is absent")


def _files(d: str) -> list[str]:
    return sorted(os.path.relpath(os.path.join(r, f), d) for r, _, fs in os.walk(d) for f in fs
                  if f.endswith(".parquet"))


@needs_warcs
def test_one_worker_ingest_runs_in_process_with_the_clusters_files(tmp_path, monkeypatch, dask_client):
    inline, cluster = str(tmp_path / "inline"), str(tmp_path / "cluster")
    log = tmp_path / "events.jsonl"
    monkeypatch.setenv(timing.ENV, str(log))
    assert main(["ingest", *WARCS, "--out", inline, "--workers", "1", "--quiet"]) == 0
    monkeypatch.delenv(timing.ENV)
    wf = Workflow(name="ingest", inputs=[os.path.abspath(p) for p in WARCS], steps=[Step("ingest", Ingest())])
    runner.run(wf, out_dirs={"ingest": cluster}, client=dask_client, quiet=True)
    files = _files(inline)
    assert files == _files(cluster) and "pdfs/part-00000.parquet" in files and "dropped/part-00001.parquet" in files
    assert all(filecmp.cmp(os.path.join(inline, f), os.path.join(cluster, f), shallow=False) for f in files)
    # where the time went: no cluster, and ingest's own phases inside `process`
    events = [e["event"] for e in timing.read_events(str(log))]
    assert "cluster_up" not in events and events[0] == "cli" and events[-1] == "run_done"
    phases = json.load(open(os.path.join(inline, "stats.json")))["phases"]
    parts = {"process.decode", "process.signals", "process.extract", "process.language_id"}
    assert parts | {"setup", "process", "write"} == set(phases)
    assert phases["process.extract"] > 0 and sum(phases[k] for k in parts) <= phases["process"]


def _eval_pages(n: int) -> list[str]:
    from gristmill.pipeline.ingest.charset import decode

    gold = json.load(open(os.path.join(EVAL, "evaldata.json"), encoding="utf-8"))
    pages = []
    for g in list(gold.values())[:n]:
        with gzip.open(os.path.join(EVAL, "html", g["file"] + ".gz"), "rb") as f:
            pages.append(decode(f.read())[0])
    return pages


@needs_eval
def test_skipped_tree_copies_leave_the_text_unchanged(monkeypatch):
    import trafilatura
    from trafilatura import core, main_extractor, utils

    from gristmill.pipeline.ingest import extract

    engine = get_engine("trafilatura+resiliparse")
    pages = _eval_pages(80)
    fast = [engine(h) for h in pages]
    if trafilatura.__version__.startswith(COPY_SWITCH_VERSIONS):
        assert getattr(core.copy, "gristmill_switch", False) and extract._NO_RECOVERY_OPTIONS is not None
    monkeypatch.setattr(extract, "_NO_RECOVERY_OPTIONS", None)  # options built per call, as before
    monkeypatch.setattr(core, "copy", copy.copy)  # trafilatura as shipped: every copy made
    monkeypatch.setattr(main_extractor, "deepcopy", copy.deepcopy)
    monkeypatch.setattr(core, "extract_content", main_extractor.extract_content)
    if hasattr(utils.remove_control_characters, "original"):
        monkeypatch.setattr(utils, "remove_control_characters", utils.remove_control_characters.original)
    utils.line_processing.cache_clear()  # its cached lines would hide the original function
    assert [engine(h) for h in pages] == fast
    assert sum(1 for t in fast if t) >= 75


def _meta_signals_by_lowering(html: str) -> set[str]:
    """optout.meta_signals as it was, with the whole head lowered: the reference."""
    head = html[:65536]
    low = head.lower()
    if "noai" not in low and "noimageai" not in low and "tdm-reservation" not in low:
        return set()
    out = set()
    for tag in optout._META.findall(head):
        nm = optout._NAME.search(tag)
        if not nm:
            continue
        name = nm.group(1).lower()
        cm = optout._CONTENT.search(tag)
        content = next((g for g in cm.groups() if g is not None), "") if cm else ""
        if name in optout.ROBOTS_NAMES:
            out |= optout._directives(content)
        elif name == "tdm-reservation" and optout._truthy(content):
            out.add("tdm-reservation")
    return out


def test_ascii_mentions_find_what_lowering_finds():
    pages = ["<a href='HTTPS://CreativeCommons.ORG/licenses/by/4.0/'>", "creativecommons org", "",
             "K\u212a İstanbul creatİvecommons.org ſ", "\ud800 lone surrogate creativecommons.org",
             "<META NAME=ROBOTS CONTENT='NOAI, NOIMAGEAI'>", "<meta name=robots content='noaİ'> tdm-reservatİon",
             "<meta name='TDM-Reservation' content=1>", "Übersicht " * 50]
    for page in pages:
        assert licenses.mentions(page, b"creativecommons.org") == ("creativecommons.org" in page.lower()), page
        assert optout.meta_signals(page) == _meta_signals_by_lowering(page), page
    assert optout.meta_signals(pages[5]) == {"noai", "noimageai"} and optout.meta_signals(pages[6]) == set()
    assert optout.meta_signals(pages[7]) == {"tdm-reservation"}
    for page in pages[:5]:  # the page's own UTF-8 bytes answer as its encoding does
        raw = page.encode("utf-8", "surrogatepass")
        assert licenses.detect_license(page, None, raw) == licenses.detect_license(page)
    bad = b"<a href='https://creativecommons.org/licenses/by/4.0/'>\xff\xc3(creativecommons.org"
    assert licenses.mentions(bad.decode("utf-8", "replace"), b"creativecommons.org", bad)
    assert licenses.detect_license(pages[0])[0] == "CC-BY-4.0"  # upper-case URLs are still found
    assert licenses.detect_license('<link REL="License" HREF="https://CREATIVECOMMONS.org/licenses/by-sa/4.0/">')[0] \
        == "CC-BY-SA-4.0"


@needs_eval
def test_eval_warc_is_reproducible_and_scored(tmp_path):
    sys.path.insert(0, os.path.join(REPO, "benchmarks"))
    import eval_warc

    root = tmp_path / "eval"
    (root / "html").mkdir(parents=True)
    gold = dict(list(eval_warc.gold(EVAL).items())[:6])
    for g in gold.values():
        shutil.copy(os.path.join(EVAL, "html", g["file"] + ".gz"), root / "html")
    (root / "evaldata.json").write_text(json.dumps(gold), encoding="utf-8")
    a, b = str(tmp_path / "a.warc.gz"), str(tmp_path / "b.warc.gz")
    assert eval_warc.build(a, str(root)) == 6 and eval_warc.build(b, str(root)) == 6
    assert filecmp.cmp(a, b, shallow=False)
    out, _ = Ingest().read_file(a)
    texts = dict(zip(out.table.column("url").to_pylist(), out.table.column("text").to_pylist()))
    assert set(texts) <= set(gold) and len(texts) >= 5
    scored = eval_warc.score(texts, gold)
    assert 0.5 < scored["f1"] <= 1 and eval_warc.score({}, gold)["f1"] == 0.0
