"""Small PDFs made on the fly for the OCR tests (pymupdf writes them)."""

from __future__ import annotations

import pymupdf

HEADER = "THE JOURNAL OF SMALL TESTS"
LEFT = ["Columns are read from top", "to bottom before moving on", "to the next column on the", "right hand side of a page."]
RIGHT = ["This sentence belongs to", "the second column and must", "come after the whole left", "column has been read out."]


def born_digital(pages: int = 3) -> bytes:
    """Two-column pages with a running header and page numbers."""
    doc = pymupdf.open()
    for n in range(pages):
        page = doc.new_page(width=500, height=400)
        page.insert_text((40, 30), HEADER, fontsize=9)
        for i, (left, right) in enumerate(zip(LEFT, RIGHT)):
            page.insert_text((40, 80 + 16 * i), f"{left}", fontsize=10)
            page.insert_text((270, 80 + 16 * i), f"{right}", fontsize=10)
        page.insert_text((40, 200), f"Page body number {n + 1} ends here.", fontsize=10)
        page.insert_text((245, 385), str(n + 1), fontsize=9)
    return doc.tobytes()


def scanned(text_lines: list[str], rotate: int = 0, dpi: int = 110) -> bytes:
    """One image-only page: `text_lines` rendered to pixels (no text layer)."""
    src = pymupdf.open()
    page = src.new_page(width=320, height=40 + 22 * len(text_lines))
    for i, line in enumerate(text_lines):
        page.insert_text((20, 30 + 22 * i), line, fontsize=14)
    pix = page.get_pixmap(dpi=dpi)
    out = pymupdf.open()
    w, h = (page.rect.height, page.rect.width) if rotate in (90, 270) else (page.rect.width, page.rect.height)
    dst = out.new_page(width=w, height=h)
    dst.insert_image(dst.rect, pixmap=pix, rotate=rotate)
    return out.tobytes()


def encrypted() -> bytes:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "secret text", fontsize=12)
    return doc.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="pw", owner_pw="owner")


def with_xmp(text: str, xmp: str) -> bytes:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), text, fontsize=12)
    doc.set_xml_metadata(xmp)
    return doc.tobytes()


def ruled_table() -> bytes:
    """A page with a 3x3 ruled table and a sentence above it."""
    doc = pymupdf.open()
    page = doc.new_page(width=400, height=300)
    page.insert_text((40, 40), "Table 1 lists the fruit we counted on Monday.", fontsize=10)
    cells = [["Fruit", "Count", "Colour"], ["Apple", "12", "red"], ["Pear", "7", "green"]]
    x = [40, 160, 260, 360]
    y = [60, 85, 110, 135]
    for yy in y:
        page.draw_line((x[0], yy), (x[-1], yy))
    for xx in x:
        page.draw_line((xx, y[0]), (xx, y[-1]))
    for r, row in enumerate(cells):
        for c, text in enumerate(row):
            page.insert_text((x[c] + 5, y[r] + 17), text, fontsize=10)
    return doc.tobytes()


TABLE_CELLS = [["Station", "Rain (mm)", "Wind"], ["Aberdeen", "81.2", "NW | gusty"], ["Bath", "62.0", "calm"],
               ["Cork", "104.5", "SW"]]


def column_table() -> bytes:
    """An unruled table (text placed at column positions) between two paragraphs."""
    doc = pymupdf.open()
    page = doc.new_page(width=500, height=400)
    page.insert_text((40, 40), "Rainfall measured at three stations last month was as follows.", fontsize=10)
    for r, row in enumerate(TABLE_CELLS):
        for c, text in enumerate(row):
            page.insert_text((40 + 130 * c, 80 + 16 * r), text, fontsize=10)
    page.insert_text((40, 190), "The wettest station was Cork, as in most years.", fontsize=10)
    return doc.tobytes()


PROSE = ("It is a truth universally acknowledged that a single man in possession of a good fortune must be "
         "in want of a wife. However little known the feelings or views of such a man may be on his first "
         "entering a neighbourhood, this truth is so well fixed in the minds of the surrounding families.").split()


def prose_columns(n_cols: int = 3) -> bytes:
    """Justified-looking prose in `n_cols` columns whose baselines line up across columns."""
    doc = pymupdf.open()
    page = doc.new_page(width=560, height=400)
    width = 480 / n_cols
    for c in range(n_cols):
        words = PROSE[c * 3:] + PROSE[:c * 3]
        line, row, k = [], 0, 0
        while row < 14:
            word = words[k % len(words)]
            k += 1
            if pymupdf.get_text_length(" ".join(line + [word]), fontsize=9) > width - 16:
                page.insert_text((40 + width * c, 60 + 12 * row), " ".join(line), fontsize=9)
                line, row = [], row + 1
            line.append(word)
    return doc.tobytes()


def as_scan(pdf: bytes, dpi: int = 150) -> bytes:
    """The first page of `pdf` rendered to pixels, as an image-only PDF of the same size."""
    src = pymupdf.open(stream=pdf, filetype="pdf")
    out = pymupdf.open()
    dst = out.new_page(width=src[0].rect.width, height=src[0].rect.height)
    dst.insert_image(dst.rect, pixmap=src[0].get_pixmap(dpi=dpi))
    return out.tobytes()
