"""OCR quality and cost, per engine, on pages with known text.

    python benchmarks/ocr_quality.py [--data ../shared/data] [--pages 4] [--out report.json]

1. Rendered pages: known paragraphs (from the public-domain Pride and Prejudice text)
   typeset by pymupdf, then rasterised clean (150 dpi) and degraded (72 dpi; 2 degree
   skew; Gaussian blur; noise; JPEG quality 25). Engines: the text layer (pymupdf), the
   bundled engine as gristmill runs it (rapidocr, line classifier off, rotation check),
   and rapidocr with its line classifier on (to show why it is off).
   Also: 5 degree skew; 100 dpi with blur, noise and JPEG together.
2. Gold documents from ../shared/data/pdf: the olmOCR sample (edgar) and its gnarly
   variants (text, rotated 90, image only), the Gutenberg PDFs' pages against their
   plain-text edition (aligned page by page).
3. Throughput on a mixed set (born-digital + scanned pages): the router against
   OCR-every-page, same pages, one process, one onnxruntime thread.
4. `--only find_tables` (not in the default set): pymupdf's `page.find_tables()` against
   the plain mode's own table detection, seconds per page and tables found.

CER and WER are edit distances over whitespace-normalised text (case kept, Markdown
table/heading marks removed from gold), divided by the reference length.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import sys
import time

import numpy as np
import pymupdf
from PIL import Image, ImageFilter
from rapidfuzz.distance import Levenshtein

from gristmill.ocr.cpu_ocr import RapidOcrEngine
from gristmill.ocr.docproc import Engines, process_document
from gristmill.ocr.layout import render

_MD = re.compile(r"<[^>]{1,200}>|[#*_|`>]+|^-{3,}$|\|?-{3,}\|?", re.M)  # HTML tags, Markdown marks
_FRONT = re.compile(r"^---\n.*?\n---\n", re.S)  # olmOCR gold's YAML front matter
_TYPO = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u2014": "-", "\u2013": "-",
                       "\u00a0": " "})


def norm(s: str) -> str:
    """Whitespace collapsed, Markdown/HTML marks and front matter removed, typographic
    quotes and dashes made plain (the Gutenberg .txt editions use straight ones)."""
    return " ".join(_MD.sub(" ", _FRONT.sub("", s)).translate(_TYPO).split())


def cer_wer(hyp: str, ref: str) -> tuple[float, float]:
    h, r = norm(hyp), norm(ref)
    if not r:
        return (0.0 if not h else 1.0), (0.0 if not h else 1.0)
    cer = Levenshtein.distance(h, r) / len(r)
    hw, rw = h.split(), r.split()
    vocab: dict[str, int] = {}
    wer = Levenshtein.distance([vocab.setdefault(w, len(vocab)) for w in hw],
                               [vocab.setdefault(w, len(vocab)) for w in rw]) / max(1, len(rw))
    return cer, wer


# -- 1. rendered pages -------------------------------------------------------------------
def paragraphs(data: str, n: int, seed: int = 0) -> list[str]:
    text = open(os.path.join(data, "pdf/gutenberg_pdf/pg1342-0.expected.txt"), encoding="utf-8").read()
    paras = [" ".join(p.split()) for p in text.split("\n\n")]
    paras = [p for p in paras if 350 < len(p) < 900 and p.isascii()]
    rng = random.Random(seed)
    return rng.sample(paras, n)


def typeset(text: str) -> bytes:
    doc = pymupdf.open()
    page = doc.new_page(width=420, height=360)
    page.insert_textbox(pymupdf.Rect(30, 30, 390, 340), text, fontsize=10.5, fontname="tiro")
    return doc.tobytes()


def raster(pdf: bytes, dpi: int) -> Image.Image:
    page = pymupdf.open(stream=pdf, filetype="pdf")[0]
    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
    return Image.frombytes("L", (pix.w, pix.h), pix.samples)


def degrade(img: Image.Image, kind: str, rng: np.random.Generator) -> Image.Image:
    if kind == "skew":
        return img.rotate(2.0, resample=Image.BICUBIC, expand=True, fillcolor=255)
    if kind == "blur":
        return img.filter(ImageFilter.GaussianBlur(1.2))
    if kind == "noise":
        a = np.asarray(img, np.float32) + rng.normal(0, 40, (img.height, img.width))
        return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    if kind == "jpeg":
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=25)
        return Image.open(io.BytesIO(buf.getvalue())).convert("L")
    if kind == "skew5":
        return img.rotate(5.0, resample=Image.BICUBIC, expand=True, fillcolor=255)
    if kind == "all":  # a poor scan: 100 dpi, slight blur, noise, JPEG
        img = img.filter(ImageFilter.GaussianBlur(0.6))
        a = np.asarray(img, np.float32) + rng.normal(0, 25, (img.height, img.width))
        img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=35)
        return Image.open(io.BytesIO(buf.getvalue())).convert("L")
    return img


def image_pdf(img: Image.Image, width_pt: float) -> bytes:
    doc = pymupdf.open()
    h_pt = width_pt * img.height / img.width
    page = doc.new_page(width=width_pt, height=h_pt)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    page.insert_image(page.rect, stream=buf.getvalue())
    return doc.tobytes()


def ocr_text(engine: RapidOcrEngine, pdf: bytes, dpi: int = 150) -> str:
    from gristmill.ocr.cpu_ocr import render_page

    page = pymupdf.open(stream=pdf, filetype="pdf")[0]
    lines, _ = engine.read(render_page(page, dpi))
    return render(lines)


def rendered_pages(data: str, n: int, only: set[str] | None = None) -> list[dict]:
    rng = np.random.default_rng(0)
    ours = RapidOcrEngine(threads=1)
    with_cls = RapidOcrEngine(threads=1, use_cls=True)
    rows = []
    conditions = [("clean 150 dpi", 150, None), ("72 dpi", 72, None), ("skew 2°", 150, "skew"),
                  ("blur", 150, "blur"), ("noise", 150, "noise"), ("JPEG q25", 150, "jpeg"),
                  ("skew 5°", 150, "skew5"), ("100 dpi + blur + noise + JPEG", 100, "all")]
    texts = paragraphs(data, n)
    for cond, dpi, kind in conditions:
        if only and cond not in only:
            continue
        acc: dict[str, list] = {}
        for text in texts:
            pdf = typeset(text)
            if cond == "clean 150 dpi":
                layer = "\n".join(p.get_text() for p in pymupdf.open(stream=pdf, filetype="pdf"))
                acc.setdefault("text layer (pymupdf)", []).append((cer_wer(layer, text), 0.0))
            scan = image_pdf(degrade(raster(pdf, dpi), kind, rng), 420)
            for name, eng in (("rapidocr (gristmill: cls off)", ours), ("rapidocr, line classifier on", with_cls)):
                if name.endswith("on") and cond not in ("clean 150 dpi", "100 dpi + blur + noise + JPEG"):
                    continue
                t0 = time.perf_counter()
                hyp = ocr_text(eng, scan)
                acc.setdefault(name, []).append((cer_wer(hyp, text), time.perf_counter() - t0))
        for name, vals in acc.items():
            rows.append({"set": "rendered", "condition": cond, "engine": name, "pages": len(vals),
                         "cer": float(np.mean([v[0][0] for v in vals])), "wer": float(np.mean([v[0][1] for v in vals])),
                         "s_per_page": float(np.mean([v[1] for v in vals]))})
            print(json.dumps(rows[-1]), flush=True)
    return rows


# -- 2. gold documents -------------------------------------------------------------------
def run_doc(pdf_path: str, opts: dict, pages: list[int] | None = None) -> tuple[str, list[str], float]:
    from gristmill.ocr.assemble import assemble

    t0 = time.perf_counter()
    msgs = list(process_document({"pdf": pdf_path, "opts": opts}, ENGINES))
    info = next(m for m in msgs if m["kind"] == "open")
    page_msgs = {m["index"]: m for m in msgs if m["kind"] == "page"}
    doc = assemble(info["pages"], page_msgs)
    return doc.text, doc.routes, time.perf_counter() - t0


ENGINES = Engines()


def gold_documents(data: str) -> list[dict]:
    rows = []
    gold = open(os.path.join(data, "pdf/olmocr_sample_dataset/simple_document/edgar.md"), encoding="utf-8").read()
    for name in ("olmocr_sample_dataset/simple_document/edgar.pdf", "olmocr_gnarly/edgar.pdf",
                 "olmocr_gnarly/edgar-rotated90.pdf", "olmocr_gnarly/edgar_image.pdf"):
        path = os.path.join(data, "pdf", name)
        for mode, opts in (("router", {}), ("OCR every page", {"router": {"force": "ocr"}})):
            text, routes, secs = run_doc(path, opts)
            c, w = cer_wer(text, gold)
            rows.append({"set": "gold", "doc": name, "mode": mode, "routes": sorted(set(routes)),
                         "cer": c, "wer": w, "seconds": secs})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def gold_table(data: str) -> list[dict]:
    rows = []
    table_gold = open(os.path.join(data, "pdf/olmocr_sample_dataset/synth_table/untable.md"), encoding="utf-8").read()
    path = os.path.join(data, "pdf/olmocr_sample_dataset/synth_table/untable.pdf")
    for mode, opts in (("router, plain", {}), ("router, markdown (pymupdf4llm)", {"text_mode": "markdown"}),
                       ("router, auto", {"text_mode": "auto"})):
        text, routes, secs = run_doc(path, opts)
        c, w = cer_wer(text, table_gold)
        rows.append({"set": "gold", "doc": "synth_table/untable.pdf", "mode": mode, "routes": sorted(set(routes)),
                     "cer": c, "wer": w, "seconds": secs})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def find_tables_cost(data: str) -> list[dict]:
    """pymupdf's `page.find_tables()` against the plain text-layer path, per page: its cost,
    the cheap ruling-line gate (`get_cdrawings()` segments), and the tables each finds."""
    from gristmill.ocr.textlayer import page_lines

    rows = []
    for name, pages in (("olmocr_sample_dataset/synth_table/untable.pdf", [0]),
                        ("olmocr_gnarly/lots_of_sci_tables.pdf", [0, 1, 2, 3]),
                        ("gutenberg_pdf/pandp12p.pdf", [20, 21, 22]), ("olmocr_gnarly/edgar.pdf", [0])):
        doc = pymupdf.open(os.path.join(data, "pdf", name))
        for i in pages:
            page = doc[i]
            t0 = time.perf_counter()
            segments = sum(1 for path in page.get_cdrawings() for item in path.get("items", ()) if item[0] in ("l", "re"))
            t1 = time.perf_counter()
            found = page.find_tables().tables
            t2 = time.perf_counter()
            lines = page_lines(page)
            render(lines)
            t3 = time.perf_counter()
            rows.append({"set": "find_tables", "doc": name, "page": i + 1, "segments": segments,
                         "gate_s": round(t1 - t0, 4), "find_tables_s": round(t2 - t1, 3),
                         "find_tables": [(t.row_count, t.col_count) for t in found],
                         "plain_page_s": round(t3 - t2, 4),
                         "plain_tables": [(sum(1 for ln in lines if ln.table == k),
                                           next(ln.text for ln in lines if ln.table == k).count(" | ") + 1)
                                          for k in sorted({ln.table for ln in lines if ln.table})]})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def gutenberg_pages(data: str, n_pages: int) -> list[dict]:
    """Pages of pandp12p.pdf against the plain-text edition: each page's reference is the
    stretch of the edition between its first and last words (found by search)."""
    rows = []
    ref_all = norm(open(os.path.join(data, "pdf/gutenberg_pdf/pandp12.expected.txt"), encoding="latin-1").read())
    path = os.path.join(data, "pdf/gutenberg_pdf/pandp12p.pdf")
    doc = pymupdf.open(path)
    pages = list(range(20, 20 + n_pages))
    for mode, opts in (("router, plain", {}), ("router, markdown (pymupdf4llm)", {"text_mode": "markdown"}),
                       ("router, auto", {"text_mode": "auto"}), ("OCR every page", {"router": {"force": "ocr"}})):
        cers, wers, secs = [], [], 0.0
        for i in pages:
            sub = pymupdf.open()
            sub.insert_pdf(doc, from_page=i, to_page=i)
            text, _, s = run_doc(sub.tobytes(), opts)
            secs += s
            hyp = norm(text)
            words = hyp.split()
            if len(words) < 20:
                continue
            start = ref_all.find(" ".join(words[1:6]))
            end = ref_all.find(" ".join(words[-6:-1]))
            if start < 0 or end < 0:
                continue
            ref = ref_all[max(0, start - len(words[0]) - 1): end + len(" ".join(words[-6:]))]
            c, w = cer_wer(hyp, ref)
            cers.append(c)
            wers.append(w)
        rows.append({"set": "gold", "doc": f"gutenberg pandp12p.pdf p{pages[0] + 1}-{pages[-1] + 1}", "mode": mode,
                     "pages_scored": len(cers), "cer": float(np.mean(cers)) if cers else None,
                     "wer": float(np.mean(wers)) if wers else None, "seconds": secs})
        print(json.dumps(rows[-1]), flush=True)
    return rows


# -- 3. throughput -----------------------------------------------------------------------
def throughput(data: str, n_digital: int, n_scanned: int) -> list[dict]:
    src = pymupdf.open(os.path.join(data, "pdf/gutenberg_pdf/pandp12p.pdf"))
    mixed = pymupdf.open()
    mixed.insert_pdf(src, from_page=30, to_page=30 + n_digital - 1)
    for i in range(n_scanned):
        page = src[60 + i]
        pix = page.get_pixmap(dpi=150, colorspace=pymupdf.csGRAY)
        dst = mixed.new_page(width=page.rect.width, height=page.rect.height)
        dst.insert_image(dst.rect, stream=pix.tobytes("jpg", jpg_quality=60))
    pdf = mixed.tobytes()
    ENGINES.get("cpu", 1)  # model load is not part of either timing
    rows = []
    texts = {}
    for mode, opts in (("router", {}), ("OCR every page", {"router": {"force": "ocr"}})):
        text, routes, secs = run_doc(pdf, opts)
        texts[mode] = text
        n = n_digital + n_scanned
        c, _ = cer_wer(text, texts["router"])
        rows.append({"set": "throughput", "mode": mode, "pages": n, "seconds": secs, "pages_per_s": n / secs,
                     "routes": {r: routes.count(r) for r in set(routes)}, "cer_vs_router_text": c})
        print(json.dumps(rows[-1]), flush=True)
    rows.append({"set": "throughput", "speedup": rows[1]["seconds"] / rows[0]["seconds"]})
    print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--pages", type=int, default=4, help="rendered pages per condition")
    ap.add_argument("--gutenberg-pages", type=int, default=4)
    ap.add_argument("--mixed", default="8,2", help="born-digital,scanned pages for the throughput run")
    ap.add_argument("--only", default="rendered,gold,table,gutenberg,throughput")
    ap.add_argument("--conditions", default=None, help="comma-separated rendered conditions (default: all)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if not os.path.isdir(os.path.join(args.data, "pdf")):
        print(f"no {args.data}/pdf: nothing to measure", file=sys.stderr)
        return 2
    rows = []
    only = set(args.only.split(","))
    if "rendered" in only:
        rows += rendered_pages(args.data, args.pages, set(args.conditions.split(",")) if args.conditions else None)
    if "gold" in only:
        rows += gold_documents(args.data)
    if "table" in only:
        rows += gold_table(args.data)
    if "gutenberg" in only:
        rows += gutenberg_pages(args.data, args.gutenberg_pages)
    if "find_tables" in only:
        rows += find_tables_cost(args.data)
    if "throughput" in only:
        d, s = (int(x) for x in args.mixed.split(","))
        rows += throughput(args.data, d, s)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
