"""OCR building blocks without PDFs: reading order, running lines, router rules, rights."""

from gristmill.ocr.layout import Box, Line, find_gutters, order_boxes, remove_running_lines, render
from gristmill.ocr.pdf_meta import rights_evidence, spdx_from_cc_url
from gristmill.ocr.router import RouterConfig, route
from gristmill.ocr.textlayer import PageSignals, text_signals


def _two_columns():
    boxes = [Box(50, 20, 550, 40, "A Title Across Both Columns")]
    for i in range(6):
        y = 60 + 20 * i
        boxes.append(Box(50, y, 280, y + 14, f"left {i}"))
        boxes.append(Box(320, y, 550, y + 14, f"right {i}"))
    boxes.append(Box(50, 200, 550, 214, "a full-width footnote"))
    return boxes


def test_columns_read_top_to_bottom_then_left_to_right():
    lines = order_boxes(_two_columns(), 600)
    texts = [ln.text for ln in lines]
    assert texts[0] == "A Title Across Both Columns"
    assert texts[1:7] == [f"left {i}" for i in range(6)]
    assert texts[7:13] == [f"right {i}" for i in range(6)]
    assert texts[-1] == "a full-width footnote"


def _table_boxes(rows, x_step=150, y_step=20):
    boxes = []
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            if cell:
                boxes.append(Box(20 + x_step * c, 20 + y_step * r, 20 + x_step * c + 8 * len(cell),
                                 34 + y_step * r, cell))
    return boxes


def test_tables_read_row_by_row_as_markdown_rows():
    rows = [["Country or area", "2003", "2004"], ["Algeria", "31", "32"], ["Angola", "16", "17"]]
    lines = order_boxes(_table_boxes(rows), 600)
    assert [ln.text for ln in lines] == ["| Country or area | 2003 | 2004 |", "| Algeria | 31 | 32 |",
                                         "| Angola | 16 | 17 |"]
    assert {ln.table for ln in lines} == {1}


def test_table_renders_as_markdown_between_paragraphs():
    boxes = [Box(20, 0, 400, 12, "The counts were these:")]
    boxes += _table_boxes([["Fruit", "Count", "Note"], ["Apple", "12", "a|b"], ["Pear", "", "green"]])
    boxes += [Box(20, 120, 400, 132, "That was all.")]
    text = render(order_boxes(boxes, 600))
    assert text == ("The counts were these:\n\n| Fruit | Count | Note |\n|---|---|---|\n| Apple | 12 | a\\|b |\n"
                    "| Pear |  | green |\n\nThat was all.")


def test_wrapped_cell_joins_its_row_and_spanning_header_keeps_columns():
    boxes = [Box(120, 0, 380, 12, "Population (thousands)")]  # a header cell over the year columns
    for y, row in ((16, ["Name", "2003", "2004", "2005"]), (32, ["Congo", "3", "4", "5"]),
                   (64, ["Chad", "9", "9", "10"])):
        boxes += [Box(20 + 100 * c, y, 20 + 100 * c + 8 * len(t), y + 12, t) for c, t in enumerate(row)]
    boxes.append(Box(20, 44.5, 100, 56.5, "démocratique"))  # wraps under "Congo", tighter than the row pitch
    texts = [ln.text for ln in order_boxes(boxes, 600)]
    # The header over several columns makes the table HTML, the header cell with its colspan.
    assert texts == ['<tr><th></th><th colspan="3">Population (thousands)</th></tr>',
                     "<tr><th>Name</th><th>2003</th><th>2004</th><th>2005</th></tr>",
                     "<tr><td>Congo démocratique</td><td>3</td><td>4</td><td>5</td></tr>",
                     "<tr><td>Chad</td><td>9</td><td>9</td><td>10</td></tr>"]
    assert render(order_boxes(boxes, 600)).startswith("<table>\n<tr><th></th>")


def test_prose_columns_are_not_a_table():
    words = "the quick brown fox jumps over a lazy dog while reading".split()
    for n_cols in (2, 3):
        boxes = []
        width = 540 / n_cols
        for c in range(n_cols):
            for r in range(12):
                text = " ".join(words[(r + c) % 5:(r + c) % 5 + 6])
                right = 20 + width * c + width - 20 - (40 if r % 4 == 3 else 0)  # justified, short paragraph ends
                boxes.append(Box(20 + width * c, 40 + 14 * r, right, 52 + 14 * r, text))
        lines = order_boxes(boxes, 600)
        assert not any(ln.table for ln in lines) and not any("|" in ln.text for ln in lines)


def test_single_column_has_no_gutter_and_words_join_on_a_line():
    boxes = [Box(10, 10, 60, 20, "Hello"), Box(66, 11, 120, 21, "world"), Box(10, 30, 100, 40, "next")]
    assert find_gutters(boxes, min_gap=8) == []
    assert [ln.text for ln in order_boxes(boxes, 200)] == ["Hello world", "next"]


def test_render_joins_hyphenated_words_and_paragraphs():
    lines = [Line("The manner was suf-", 0, 0, 100, 10, True), Line("ficiently clear.", 0, 12, 100, 22),
             Line("New paragraph", 0, 40, 100, 50, True)]
    assert render(lines) == "The manner was sufficiently clear.\n\nNew paragraph"
    assert render([Line("Chapter 1 . . . . . . . . 12", 0, 0, 100, 10, True)]) == "Chapter 1 12"
    assert render([Line("Wait... what?", 0, 0, 100, 10, True)]) == "Wait... what?"


def test_running_headers_and_page_numbers_removed_body_kept():
    pages = []
    for i in range(5):
        pages.append([Line("THE JOURNAL OF TESTS", 0, 10, 100, 20), Line(f"body text {i}", 0, 300, 100, 310),
                      Line("repeated body line", 0, 320, 100, 330), Line(str(i + 1), 0, 780, 10, 790)])
    cleaned, removed = remove_running_lines(pages, [800.0] * 5)
    assert removed == 10
    assert all([ln.text for ln in p][0].startswith("body text") for p in cleaned)
    assert all(len(p) == 2 for p in cleaned)


def test_text_signals_flag_garbage_and_script_mixing():
    g, letters, mix = text_signals("Hello world, this is fine.")
    assert g == 0 and letters > 0.8 and mix == 0
    g, _, _ = text_signals("\x03\x03ab\ufffd\ufffd")
    assert g > 0.5
    _, _, mix = text_signals("abcαβγабвاب")  # Latin, Greek, Cyrillic, Arabic letters
    assert mix > 0.3
    _, _, mix = text_signals("漢字とカタカナ")  # Japanese: one script group
    assert mix == 0


def test_router_reasons():
    cfg = RouterConfig()
    ok = PageSignals(chars=900, visible_chars=900, letter_ratio=0.9)
    assert route(ok, cfg) == ("text", "text_layer_ok")
    assert route(PageSignals(chars=0, image_cover=0.9), cfg) == ("ocr", "no_text_layer")
    assert route(PageSignals(), cfg) == ("blank", "no_text_no_image")
    assert route(PageSignals(chars=20, visible_chars=20, letter_ratio=0.9), cfg) == ("text", "short_text_layer")
    inv = PageSignals(chars=900, visible_chars=0, invisible_ratio=1.0, letter_ratio=0.9, image_cover=1.0)
    assert route(inv, cfg) == ("ocr", "invisible_text_layer")
    assert route(inv, RouterConfig(trust_ocr_layer=True)) == ("text", "ocr_layer_kept")
    glyphless = PageSignals(chars=900, visible_chars=900, glyphless_ratio=1.0, letter_ratio=0.9)
    assert route(glyphless, cfg) == ("ocr", "invisible_text_layer")
    bad = PageSignals(chars=900, visible_chars=900, garbage_ratio=0.3, letter_ratio=0.6)
    assert route(bad, cfg) == ("ocr", "garbled_text_layer")
    mixed = PageSignals(chars=900, visible_chars=900, letter_ratio=0.9, script_mix=0.4)
    assert route(mixed, cfg) == ("ocr", "garbled_text_layer")
    sparse = PageSignals(chars=60, visible_chars=60, letter_ratio=0.9, image_cover=0.95)
    assert route(sparse, cfg) == ("ocr", "image_page_sparse_text")
    assert route(PageSignals(chars=3, visible_chars=3, letter_ratio=1, image_cover=0.5), cfg)[0] == "ocr"
    assert route(ok, RouterConfig(force="ocr")) == ("ocr", "forced_ocr")


XMP = """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description
 xmlns:xmpRights="http://ns.adobe.com/xap/1.0/rights/" xmlns:tdm="http://www.w3.org/ns/tdmrep/"
 xmpRights:Marked="True" tdm:reservation="1" tdm:policy="https://example.org/policy.json">
<xmpRights:WebStatement>https://creativecommons.org/licenses/by-sa/4.0/</xmpRights:WebStatement>
</rdf:Description></rdf:RDF></x:xmpmeta>"""


def test_rights_from_xmp_and_text():
    r = rights_evidence(XMP)
    assert r["license"] == "CC-BY-SA-4.0"
    assert r["opt_out"] == ["tdm-reservation"]
    assert "WebStatement" in r["license_evidence"] and "tdm:reservation=1" in r["license_evidence"]
    r = rights_evidence("", "This PDF is licensed under a Creative Commons license: "
                            "http://creativecommons.org/licenses/by-nc/1.0/ for details")
    assert r["license"] == "CC-BY-NC-1.0" and r["opt_out"] == []
    r = rights_evidence("", "", "Creative Commons Attribution-ShareAlike 3.0 Unported")
    assert r["license"] == "CC-BY-SA-3.0"
    assert rights_evidence("", "no licence here")["license"] is None
    assert spdx_from_cc_url("https://creativecommons.org/publicdomain/zero/1.0/") == "CC0-1.0"


def test_rapidocr_models_load_from_the_wheel_without_network(monkeypatch):
    import socket

    import numpy as np

    def no_network(*a, **k):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    from gristmill.ocr.cpu_ocr import RapidOcrEngine

    engine = RapidOcrEngine(threads=1)
    assert engine.device == "cpu" and not engine.use_cls
    lines, info = engine.read(np.full((60, 200, 3), 255, np.uint8))
    assert lines == [] and info["rotation"] == 0
