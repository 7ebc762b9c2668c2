"""Every file of ../shared/data/pdf/pdfjs_selection yields a document or a counted reason
(text layers only here, to stay fast; benchmarks/ocr_bad_pdfs.py runs it with OCR)."""

from __future__ import annotations

import json
import os

import pytest

from gristmill.ocr.stage import OcrStage

DATA = os.path.join("..", "shared", "data", "pdf", "pdfjs_selection")
FAST_CATEGORIES = {"encrypted", "broken_corrupt", "huge_or_bomb", "trivial_known_text", "invisible_text_layer",
                   "cjk_rtl_scripts"}


@pytest.mark.skipif(not os.path.isdir(DATA), reason="../shared/data/pdf/pdfjs_selection is absent")
def test_pdfjs_selection_yields_text_or_reason():
    files = json.load(open(os.path.join(DATA, "files.json")))
    stage = OcrStage(ocr="none")
    seen = {}
    for name, info in sorted(files.items()):
        if info["category"] not in FAST_CATEGORIES:
            continue
        out = stage.process_file(os.path.join(DATA, "pdfs", name))
        assert out.records_in == 1 == out.table.num_rows + out.drops.num_rows, name
        seen[name] = out.table.to_pylist()[0] if out.table.num_rows else out.drops.to_pylist()[0]["reason"]
    assert len(seen) >= 40
    # known outcomes
    assert "Hello world" in seen["asciihexdecode.pdf"]["text"]
    assert seen["issue6204.pdf"]["pdf_pages"] == 2 and "This is page 2" in seen["issue6204.pdf"]["text"]
    assert seen["issue6010_1.pdf"] == "encrypted"  # a user password is needed
    assert "Dummy PDF file" in seen["issue17215.pdf"]["text"]  # encrypted with an empty user password
    assert "Test test" in seen["bug900822.pdf"]["text"]
    assert seen["issue4684.pdf"]["page_routes"][0].startswith("ocr:invisible_text_layer")
    for name in ("bug1020226.pdf", "REDHAT-1531897-0.pdf", "issue9105_other.pdf"):
        assert isinstance(seen[name], str), name  # unreadable: a reason, not a crash
    encrypted = [n for n, i in files.items() if i["category"] == "encrypted"]
    assert all(isinstance(seen[n], str) or seen[n]["text"] for n in encrypted)
