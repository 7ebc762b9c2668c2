"""Build gutenberg-pdf-crawl.warc.gz: a small crawl capture whose PDFs the quickstart OCRs.

    python workflows/sample_data/warc/build_pdf_warc.py ../shared/data

Four records, written deterministically (fixed dates and record ids, gzip per record):
warcinfo; an HTML page (text written for this sample) linking to the PDF; the PDF itself,
pages 15-16 of the public-domain Pride and Prejudice PDF (`Content-Type: application/pdf`);
and a second PDF (pages 17-18) cut after 4096 bytes as a crawler cuts long responses
(`WARC-Truncated: length`; the HTTP Content-Length keeps the full size). Licence and origin:
../LICENSES/gutenberg_pdf_warc.ORIGIN.txt.
"""

from __future__ import annotations

import io
import os
import sys
import uuid

import pymupdf
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "gutenberg-pdf-crawl.warc.gz")
SITE = "https://library.example.org/austen/"
DATE = "2026-02-03T10:15:{:02d}Z"
TRUNCATE_AT = 4096
NAMESPACE = uuid.UUID("6f1c2a52-3c7e-4d0a-9a55-0b6c1e1e4b10")

HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Pride and Prejudice: chapters as PDF</title></head>
<body><main>
<h1>Pride and Prejudice, by Jane Austen</h1>
<p>This small library page offers a few chapters of Jane Austen's novel Pride and Prejudice,
first published in 1813, as PDF files typeset from the Project Gutenberg edition. The novel
follows Elizabeth Bennet, the second of five daughters of a country gentleman, as she deals
with questions of manners, upbringing, morality and marriage in the landed gentry of the
British Regency. The text is in the public domain.</p>
<p>The first file holds the pages in which Elizabeth and Mr. Darcy talk about his character
at Netherfield; the second holds the evening that follows. Both files were prepared for
reading on screen and print on ordinary paper.</p>
<ul><li><a href="pandp-p15-16.pdf">Pages 15 and 16 (PDF)</a></li>
<li><a href="pandp-p17-18.pdf">Pages 17 and 18 (PDF)</a></li></ul>
</main></body></html>
"""


def _pages(src, first: int, last: int) -> bytes:
    out = pymupdf.open()
    out.insert_pdf(src, from_page=first - 1, to_page=last - 1)
    out.set_metadata({"title": f"Pride and Prejudice, pages {first}-{last}", "author": "Jane Austen"})
    return out.tobytes(garbage=4, deflate=True, no_new_id=True)


def _response(writer: WARCWriter, n: int, url: str, ctype: str, body: bytes, full_length: int | None = None):
    headers = StatusAndHeaders("200 OK", [("Content-Type", ctype), ("Content-Length", str(full_length or len(body))),
                                          ("Date", "Tue, 03 Feb 2026 10:15:00 GMT"), ("Server", "nginx")],
                               protocol="HTTP/1.1")
    warc = {"WARC-Date": DATE.format(n), "WARC-Record-ID": f"<urn:uuid:{uuid.uuid5(NAMESPACE, url)}>"}
    if full_length is not None:
        warc["WARC-Truncated"] = "length"
    rec = writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=headers,
                                    warc_headers_dict=warc)
    writer.write_record(rec)


def main(data: str, out: str = OUT) -> None:
    src = pymupdf.open(os.path.join(data, "pdf/gutenberg_pdf/pandp12p.pdf"))
    pdf = _pages(src, 15, 16)
    cut = _pages(src, 17, 18)
    with open(out, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        info = writer.create_warcinfo_record("gutenberg-pdf-crawl.warc.gz", {
            "software": "gristmill build_pdf_warc.py (warcio)", "format": "WARC File Format 1.0",
            "description": "sample crawl with PDF responses for the gristmill quickstart"})
        info.rec_headers.replace_header("WARC-Date", DATE.format(0))
        info.rec_headers.replace_header("WARC-Record-ID", f"<urn:uuid:{uuid.uuid5(NAMESPACE, 'warcinfo')}>")
        writer.write_record(info)
        _response(writer, 1, SITE + "pride-and-prejudice.html", "text/html; charset=utf-8", HTML.encode())
        _response(writer, 2, SITE + "pandp-p15-16.pdf", "application/pdf", pdf)
        _response(writer, 3, SITE + "pandp-p17-18.pdf", "application/pdf", cut[:TRUNCATE_AT], full_length=len(cut))
    print(out, os.path.getsize(out), "bytes")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
