"""`gristmill mix report`: the page renders in a real headless browser (not blank), and the
numbers on it are the ones in report.json."""

from __future__ import annotations

import json
import re

import pytest

from gristmill.mixing import runs, search
from tests.support.browser import dump_dom, not_blank, require_chromium, screenshot
from tests.support.mix_data import regmix_csvs


def test_report_renders_and_matches_report_json(tmp_path):
    require_chromium()
    mixtures, metrics, _ = regmix_csvs(str(tmp_path), runs=24)
    mix = str(tmp_path / "mix")
    runs.import_csv(mixtures, metrics, mix)
    search.fit_mixdir(mix, candidates=("loglinear", "ridge"))
    search.propose_mixdir(mix, str(tmp_path / "WEIGHTS.yaml"))
    from gristmill.pipeline.cli import main

    html_path = str(tmp_path / "out" / "REPORT.html")
    assert main(["mix", "report", mix, "--out", html_path]) == 0
    report = json.load(open(tmp_path / "out" / "report.json"))
    png = screenshot(html_path, str(tmp_path / "shot.png"))
    assert not_blank(png)
    dom = dump_dom(html_path)
    assert dom.count("<img") == 4 and "data:image/png;base64," in dom
    cells = dict(re.findall(r'<td data-key="([^"]+)">([^<]*)</td>', dom))
    assert len(cells) >= 10
    for key, text in cells.items():
        value = report
        for part in key.split(".")[:-1] if key.startswith("fit.models") else key.split("."):
            value = value[part]
        if key.startswith("fit.models"):
            value = value[key.split(".")[-1]]
        assert float(text) == pytest.approx(value, abs=5e-5), key
    assert report["fit"]["chosen"] in dom and report["runs"] == 24
