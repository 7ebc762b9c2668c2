"""Rebuild the sample PDFs from ../shared/data (public-domain Gutenberg PDFs):

    python workflows/sample_data/pdf/build_pdf_sample.py ../shared/data

* pandp12p-p11-14.pdf: pages 11-14 of the LaTeX-typeset Pride and Prejudice (a born-digital
  text layer with running headers and hyphenation);
* pg1342-scan-p20.pdf: the top 40% of page 20 of the other edition rendered to a 100-dpi grayscale JPEG,
  as an image-only page (a scan, for the OCR route).
"""

import os
import sys

import pymupdf

HERE = os.path.dirname(os.path.abspath(__file__))


def main(data: str) -> None:
    src = pymupdf.open(os.path.join(data, "pdf/gutenberg_pdf/pandp12p.pdf"))
    out = pymupdf.open()
    out.insert_pdf(src, from_page=10, to_page=13)
    out.save(os.path.join(HERE, "pandp12p-p11-14.pdf"), garbage=4, deflate=True)

    src = pymupdf.open(os.path.join(data, "pdf/gutenberg_pdf/pg1342-pdf.pdf"))
    page = src[19]
    clip = pymupdf.Rect(0, 0, page.rect.width, page.rect.height * 0.4)  # a third of the page: fast
    pix = page.get_pixmap(dpi=100, colorspace=pymupdf.csGRAY, clip=clip)
    out = pymupdf.open()
    dst = out.new_page(width=clip.width, height=clip.height)
    dst.insert_image(dst.rect, stream=pix.tobytes("jpg", jpg_quality=70))
    out.save(os.path.join(HERE, "pg1342-scan-p20.pdf"), garbage=4, deflate=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
