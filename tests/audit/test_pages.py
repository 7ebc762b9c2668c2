"""The audit page and the run report in a real headless browser: the screenshot shows
something, and every number tagged on the page equals the one in the JSON beside it."""

from __future__ import annotations

import json
import os
import re

import pytest

from gristmill.pipeline.cli import main
from tests.support.browser import dump_dom, not_blank, require_chromium, screenshot

TAG = re.compile(r'<span data-key="([^"]+)">([^<]*)</span>')


def _lookup(data, key: str):
    """The value at a dotted path; a dict key may itself hold dots (a licence `CC-BY-4.0`)."""
    cur, parts = data, key.split(".")
    while parts:
        if isinstance(cur, list):
            cur = cur[int(parts.pop(0))]
            continue
        for n in range(len(parts), 0, -1):
            name = ".".join(parts[:n])
            if name in cur:
                cur, parts = cur[name], parts[n:]
                break
        else:
            raise KeyError(key)
    return cur


def _same(shown: str, value) -> bool:
    if isinstance(value, bool):
        return shown == ("yes" if value else "no")
    if isinstance(value, int):
        return int(shown.replace(",", "")) == value
    if isinstance(value, float):
        return abs(float(shown.replace(",", "")) - value) <= max(1e-4, abs(value) * 1e-4)
    return shown == str(value)


def _check_page(html: str, data: dict, tmp_path, min_tags: int) -> list[str]:
    require_chromium()
    png = screenshot(html, str(tmp_path / (os.path.basename(html) + ".png")))
    assert not_blank(png)
    dom = dump_dom(html)
    tags = TAG.findall(dom)
    assert len(tags) >= min_tags, f"only {len(tags)} tagged numbers on {html}"
    wrong = [(k, v, _lookup(data, k)) for k, v in tags if not _same(v, _lookup(data, k))]
    assert not wrong, wrong
    assert dom.count("data:image/png;base64,") >= 2  # plots are embedded, not linked
    return [k for k, _ in tags]


def test_audit_page_numbers_equal_audit_json(fixture_run, tmp_path):
    out = tmp_path / "audit"
    assert main(["audit", fixture_run, "--out", str(out)]) == 0
    data = json.load(open(out / "audit.json"))
    keys = _check_page(str(out / "audit.html"), data, tmp_path, min_tags=20)
    assert "levels.mixture_tokens" in keys and "optouts.text_optout_tokens_in_mixture" in keys
    assert any(k.startswith("licenses.") for k in keys) and any(k.startswith("top_domains.rows.") for k in keys)


def test_run_report_numbers_equal_report_json(fixture_run, tmp_path):
    html = tmp_path / "REPORT.html"
    assert main(["report", fixture_run, "--out", str(html)]) == 0
    data = json.load(open(tmp_path / "REPORT.json"))
    keys = _check_page(str(html), data, tmp_path, min_tags=15)
    # the funnel equals the runner's own totals, the mixture total the manifest's
    summary = json.load(open(os.path.join(fixture_run, "run_summary.json")))["steps"]
    for row in data["funnel"]:
        assert (row["docs_in"], row["docs_out"]) == (summary[row["step"]]["docs_in"], summary[row["step"]]["docs_out"])
    assert any(k.startswith("funnel.") for k in keys) and "training.last_loss" in keys
    assert any(k.startswith("composition.license.") for k in keys)
    # the selection step's cut-off is on the page and its histogram counts every scored document
    (sel,) = data["scores"]
    assert sel["column"] == "score_quality" and sel["cutoffs"] == {"*": pytest.approx(0.1)}
    assert sum(sum(g["counts"]) for g in sel["groups"].values()) == summary["select"]["docs_in"]
    assert data["training"]["val_loss_by_domain"]


def test_report_sink_inside_the_workflow(fixture_run):
    """report@1 at the end of the workflow wrote the page into its step folder."""
    page = os.path.join(fixture_run, "report", "report.html")
    assert os.path.getsize(page) > 10_000
    data = json.load(open(os.path.join(fixture_run, "report", "report.json")))
    assert [f["step"] for f in data["funnel"]] == ["license", "select", "dedupe_exact", "tokenize"]
    assert data["scores"][0]["cutoffs"] == {"*": pytest.approx(0.1)}  # read from the drop log mid-run
