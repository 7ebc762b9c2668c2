"""Headers, footers, page numbers, stamps and DOI lines removed from a page by itself
(ocr/margins.py), body text that looks like them kept, and tables with multi-level and
label/value layouts; on tiny PDFs built here and on a few real pages."""

from __future__ import annotations

import os

import pymupdf
import pytest

from gristmill.ocr.assemble import assemble
from gristmill.ocr.docproc import Engines, process_document
from gristmill.ocr.geometry import Line
from gristmill.ocr.margins import journal_line, margin_lines, strong_pattern

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "pdf")
BODY = ("The committee met on a wet morning and agreed that the bridge would be repaired before the "
        "winter. Everyone present signed the letter, and the clerk sent copies to the county office. ")


def read(pdf: bytes, ocr: str = "none") -> str:
    msgs = list(process_document({"pdf": pdf, "opts": {"ocr": ocr}}, Engines()))
    info = next(m for m in msgs if m["kind"] == "open")
    return assemble(info["pages"], {m["index"]: m for m in msgs if m["kind"] == "page"}).text


def page_with_margins(body_extra: str = "") -> bytes:
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.insert_text((72, 30), "Downloaded from https://journals.example.org/ on 24 October 2020", fontsize=7)
    page.insert_text((72, 46), "Journal of Bridges | Volume 8 | Issue 3 | e2748", fontsize=7)
    page.insert_text((430, 46), "doi: 10.1234/jb.2020.5678", fontsize=7)
    page.insert_textbox(pymupdf.Rect(72, 90, 540, 700), BODY * 9 + body_extra, fontsize=10)
    page.insert_text((72, 760), "Page 3 of 9", fontsize=7)
    page.insert_text((300, 775), "17", fontsize=9)
    # A stamp written up the right margin.
    page.insert_text((590, 650), "Downloaded from https://journals.example.org/ by Example University user", fontsize=7,
                     rotate=90)
    return doc.tobytes()


def test_headers_footers_stamps_doi_and_page_numbers_removed_from_a_page_alone():
    text = read(page_with_margins())
    for gone in ("Downloaded from", "Volume 8", "doi: 10.1234", "Page 3 of 9", "Example University"):
        assert gone not in text, gone
    assert "\n17" not in text and not text.rstrip().endswith("17")
    assert text.count("The committee met on a wet morning") == 9  # all body kept


def test_body_text_that_looks_like_a_margin_pattern_is_kept():
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    y = 80
    for text in [BODY * 3, "Page 3 of 9", "42", "Volume 8 | Issue 3 | e2748 was the issue in which it appeared.",
                 "doi: 10.1234/jb.2020.5678", "Downloaded from the archive on 2 May 2019, the data were checked.",
                 BODY * 4]:
        rect = pymupdf.Rect(72, y, 540, y + 400)
        page.insert_textbox(rect, text, fontsize=10)
        y += 14 * (1 + len(text) // 85) + 10
    # The last body lines reach into the bottom band: a body-size paragraph stays.
    page.insert_textbox(pymupdf.Rect(72, 700, 540, 760), "The final paragraph ends the letter near the foot of the page.",
                        fontsize=10)
    text = read(doc.tobytes())
    for kept in ("Page 3 of 9", "42", "Volume 8 | Issue 3 | e2748 was the issue", "doi: 10.1234/jb.2020.5678",
                 "Downloaded from the archive", "The final paragraph ends the letter"):
        assert kept in text, kept


def test_pattern_rules():
    assert strong_pattern("Downloaded from https://academic.oup.com/bmb/article/113 by X user on 24 October 2020")
    assert strong_pattern("Page i of iii") and strong_pattern("10/1/24, 3:42 PM Edgar - Wikipedia")
    assert strong_pattern("ISSN 1535-6078") and strong_pattern("DOI 10.1007/s10327-004-0170-3")
    assert not strong_pattern("the samples were downloaded from the NCBI database and aligned")
    assert not strong_pattern("Smith J, Jones K. A long reference title here. Nature 2001; 12:3-9. doi:10.1038/x")
    assert journal_line("J Gen Plant Pathol (2005) 71:107–116") and journal_line("Volume 8 | Issue 3 | e2748")
    assert journal_line("L. Lucaccioni et al., 2015, Vol. 113")
    assert not journal_line("In 2005 the committee met again.")


def test_small_isolated_header_and_numbered_running_head():
    lines = [Line("Overview of the Model: Origins and Directions    M Y Chuttur", 90, 50, 500, 58)]
    lines.append(Line("88 FREE CULTURE", 72, 735, 160, 745))
    lines += [Line(f"body line {i} with enough words to be an ordinary line of text", 90, 100 + 14 * i, 500, 111 + 14 * i)
              for i in range(40)]
    drop = margin_lines(lines, 612, 792)
    assert drop == {0, 1}
    # A chapter heading at the top, keywords above a footer, and a table of contents are body.
    body = lines[2:]
    heading = [Line("Chapter 4", 250, 60, 330, 72)] + body
    assert margin_lines(heading, 612, 792) == set()
    keywords = body + [Line("Key words: bridges, committees, winter repairs,", 90, 700, 400, 707),
                       Line("county offices", 90, 709, 200, 716), Line("© The Author 2020. Published by X Press", 90, 770, 300, 777)]
    assert margin_lines(keywords, 612, 792) == {len(keywords) - 1}
    toc = [Line(f"Part {t} of the Story {10 * i + 3}", 90, 60 + 16 * i, 400, 71 + 16 * i)
           for i, t in enumerate(["One", "Two", "Three"])] + [Line(x.text, x.x0, x.y0 + 60, x.x1, x.y1 + 60) for x in body]
    assert margin_lines(toc, 612, 792) == set()
    # The same header at body size and without a gap is body text.
    lines[0] = Line("Overview of the Model: Origins and Directions    M Y Chuttur", 90, 86, 500, 97)
    assert 0 not in margin_lines(lines, 612, 792)


def test_table_with_multi_level_header_is_html_and_label_value_table_is_markdown():
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.insert_textbox(pymupdf.Rect(72, 60, 540, 200), BODY * 2, fontsize=10)
    page.insert_text((300, 240), "Population (thousands)", fontsize=9)
    xs = [72, 260, 340, 420, 500]
    for r, row in enumerate([["Country", "2003", "2004", "2005", "2006"], ["Algeria", "31", "32", "33", "34"],
                             ["Angola", "16", "17", "18", "19"], ["Benin", "7", "8", "9", "10"]]):
        for x, cell in zip(xs, row):
            page.insert_text((x, 258 + 16 * r), cell, fontsize=9)
    page.insert_textbox(pymupdf.Rect(72, 340, 540, 420), BODY, fontsize=10)
    for r, (k, v) in enumerate([("Reign", "959 to 975"), ("Predecessor", "Eadwig"), ("Successor", "Edward the Martyr"),
                                ("Born", "943 or 944"), ("Burial", "Glastonbury Abbey")]):
        page.insert_text((72, 460 + 16 * r), k, fontsize=9)
        page.insert_text((200, 460 + 16 * r), v, fontsize=9)
    page.insert_textbox(pymupdf.Rect(72, 560, 540, 700), BODY * 2, fontsize=10)
    text = read(doc.tobytes())
    assert '<th colspan="4">Population (thousands)</th>' in text
    assert "<tr><td>Angola</td><td>16</td><td>17</td><td>18</td><td>19</td></tr>" in text
    assert "| Successor | Edward the Martyr |" in text and "| Reign | 959 to 975 |" in text
    assert text.count("The committee met") == 5


def test_deterministic():
    pdf = page_with_margins()
    assert read(pdf) == read(pdf)


def test_ocr_page_header_and_footer_removed():
    """The OCR route: an image-only page (boxes from rapidocr) gets the same rules."""
    doc = pymupdf.open()
    page = doc.new_page(width=420, height=560)
    page.insert_text((40, 24), "Journal of Bridges | Volume 8 | Issue 3 | e2748", fontsize=7)
    page.insert_textbox(pymupdf.Rect(40, 60, 380, 480), BODY * 4, fontsize=10)
    page.insert_text((40, 540), "www.journals-example.org", fontsize=7)
    pix = page.get_pixmap(dpi=110)
    img = pymupdf.open()
    img_page = img.new_page(width=420, height=560)
    img_page.insert_image(img_page.rect, stream=pix.tobytes("png"))
    text = read(img.tobytes(), ocr="cpu")
    assert "committee met on a wet morning" in text
    assert "Volume 8" not in text and "journals-example" not in text


REAL = [
    ("olmocr_gnarly/pdftotext_two_column_issue.pdf", 2, ["Pubertal development in TS", "Turner syndrome (TS) is a condition"],
     ["Downloaded from", "Lucaccioni et al., 2015"]),
    ("pdfjs_selection/pdfs/freeculture.pdf", 100, ["Even that limited right was viewed"], ["88 FREE CULTURE", "get-it"]),
    ("gutenberg_pdf/pg1342-pdf.pdf", 20, ['"MY DEAREST LIZZY', "set off together."], []),
    ("olmocr_gnarly/repeating_references_on_pg9_pg10.pdf", 1, ["Host-specific toxins (HSTs) are agents",
                                                              "Received: May 26, 2004"], ["DOI 10.1007", "71:107"]),
]


@pytest.mark.parametrize("rel,page,present,absent", REAL)
def test_real_single_pages(rel, page, present, absent):
    path = os.path.join(DATA, rel)
    if not os.path.exists(path):
        pytest.skip(f"{path} absent (../shared/data not here)")
    src = pymupdf.open(path)
    one = pymupdf.open()
    one.insert_pdf(src, from_page=page - 1, to_page=page - 1)
    text = read(one.tobytes())
    flat = " ".join(text.replace("-\n", "").split())
    for p in present:
        assert p in flat, p
    for a in absent:
        assert a not in flat, a
