"""Single-page OCR benchmark scored the way olmOCR-bench scores: text present, text absent
(headers, footers, page numbers, stamps), reading order, table cell relations.

    python benchmarks/ocr_pages_bench.py [--data ../shared/data] [--gold benchmarks/data/ocr_pages_gold.jsonl]
                                         [--systems gristmill,pymupdf4llm] [--out report.json] [--show PAGE]
    python benchmarks/ocr_pages_bench.py --tables    # table finders on the pages with table tests
    python benchmarks/ocr_pages_bench.py --as-scan 150 --only table --systems gristmill   # tables of scans

Each gold page (`pdf/<set>/<file>.pdf:<page>`, 1-based) is cut out as a one-page PDF, so
nothing can be learned from repetition across pages, and read by each system:
`gristmill` (the CPU route: router, text layer or rapidocr, layout, margins, tables) and
`pymupdf4llm` (`to_markdown` with its defaults). Pages whose PDF is absent are skipped
and counted. The gold (benchmarks/data/ocr_pages_gold.jsonl) was written by looking at
the rendered pages, before any rule was tuned.

Matching: NFKC, typographic quotes/dashes made plain, Markdown marks and HTML tags
removed, whitespace collapsed, case kept. `present`/`order` find the text with at most
5% edits (one for short strings); `absent` fails when it is found that way, and a short
one (a page number: 4 characters or fewer) fails only when it stands as a line of its own.
`table` parses the output's Markdown and HTML tables (colspan/rowspan expanded) and
passes when some cell equal to `cell` has the given neighbours: `left`/`right`/`up`/
`down` (the next non-empty cell that way), `top_heading` (a cell above it in its column),
`left_heading` (the first non-empty cell of its row).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import sys
import time
import unicodedata
from collections import defaultdict
from html.parser import HTMLParser

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

_TYPO = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u2014": "-", "\u2013": "-",
                       "\u2212": "-", "\u00a0": " ", "\u00ad": ""})
_MARKS = re.compile(r"<[^>]{1,300}>|\*\*|__|[*`#]+|^\s*>|\\(?=[|\\])", re.M)


def norm(s: str) -> str:
    s = unicodedata.normalize("NFKC", html.unescape(s)).translate(_TYPO)
    return " ".join(_MARKS.sub(" ", s).split())


def find(needle: str, hay: str) -> tuple[int, int] | None:
    """(start, distance) of the best fuzzy match of `needle` in `hay` within the allowed
    edits, else None (both already normalised)."""
    if not needle:
        return None
    pos = hay.find(needle)
    if pos >= 0:
        return pos, 0
    if len(needle) < 8:
        return None
    al = fuzz.partial_ratio_alignment(needle, hay)
    if al is None:
        return None
    dist = Levenshtein.distance(needle, hay[al.dest_start:al.dest_end])
    return (al.dest_start, dist) if dist <= max(1, len(needle) // 20) else None


# -- tables ------------------------------------------------------------------------------
class _HtmlTables(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables: list[list[list[tuple[str, int, int]]]] = []
        self._cell: list[str] | None = None
        self._span = (1, 1)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables and self.tables[-1]:
            self._cell = []
            self._span = (int(a.get("colspan") or 1), int(a.get("rowspan") or 1))
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(("".join(self._cell), *self._span))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _grid(rows: list[list[tuple[str, int, int]]]) -> list[list[tuple[int, str]]]:
    """Rows of (origin id, text) with spans expanded."""
    grid: dict[tuple[int, int], tuple[int, str]] = {}
    ident = 0
    for r, row in enumerate(rows):
        c = 0
        for text, cs, rs in row:
            while (r, c) in grid:
                c += 1
            ident += 1
            for dr in range(rs):
                for dc in range(cs):
                    grid[(r + dr, c + dc)] = (ident, norm(text))
            c += cs
    if not grid:
        return []
    n_rows = max(r for r, _ in grid) + 1
    n_cols = max(c for _, c in grid) + 1
    return [[grid.get((r, c), (0, "")) for c in range(n_cols)] for r in range(n_rows)]


def tables(text: str) -> list[list[list[tuple[int, str]]]]:
    out = []
    parser = _HtmlTables()
    parser.feed(text)
    out.extend(_grid(t) for t in parser.tables if t)
    block: list[list[tuple[str, int, int]]] = []
    for line in text.splitlines() + [""]:
        s = line.strip()
        if s.startswith("|") and s.endswith("|") and len(s) > 1:
            cells = re.split(r"(?<!\\)\|", s[1:-1])
            if not all(re.fullmatch(r"\s*:?-{2,}:?\s*", c) for c in cells):
                block.append([(c.strip(), 1, 1) for c in cells])
            continue
        if block:
            out.append(_grid(block))
            block = []
    return [t for t in out if t]


def _cell_eq(gold: str, cell: str) -> bool:
    if not gold or not cell:
        return False
    return gold == cell or fuzz.ratio(gold, cell) >= 90 or (len(gold) >= 12 and gold in cell)


def _walk(grid, r, c, dr, dc):
    ident = grid[r][c][0]
    r, c = r + dr, c + dc
    while 0 <= r < len(grid) and 0 <= c < len(grid[0]):
        i, t = grid[r][c]
        if i != ident and t:
            return t
        r, c = r + dr, c + dc
    return None


def table_test(test: dict, text: str) -> bool:
    gold = norm(test["cell"])
    for grid in tables(text):
        for r, row in enumerate(grid):
            for c, (_, cell) in enumerate(row):
                if not _cell_eq(gold, cell):
                    continue
                ok = True
                for key, (dr, dc) in (("left", (0, -1)), ("right", (0, 1)), ("up", (-1, 0)), ("down", (1, 0))):
                    if key in test:
                        ok &= _cell_eq(norm(test[key]), _walk(grid, r, c, dr, dc) or "")
                if "top_heading" in test:
                    ok &= any(_cell_eq(norm(test["top_heading"]), grid[k][c][1]) for k in range(r))
                if "left_heading" in test:
                    first = next((t for i, t in row if t), "")
                    ok &= _cell_eq(norm(test["left_heading"]), first)
                if ok:
                    return True
    return False


def run_test(test: dict, text: str, normed: str, lines: set[str]) -> bool:
    kind = test["type"]
    if kind == "present":
        return find(norm(test["text"]), normed) is not None
    if kind == "absent":
        t = norm(test["text"])
        if len(t) <= 4:
            return t not in lines
        return find(t, normed) is None
    if kind == "order":
        a, b = find(norm(test["before"]), normed), find(norm(test["after"]), normed)
        return a is not None and b is not None and a[0] < b[0]
    if kind == "table":
        return table_test(test, text)
    raise ValueError(f"unknown test type {kind}")


def score(tests: list[dict], text: str) -> list[bool]:
    normed = norm(text)
    lines = {norm(ln) for ln in text.splitlines()} | {norm(c) for ln in text.splitlines() for c in ln.split("|")}
    lines.discard("")
    return [run_test(t, text, normed, lines) for t in tests]


# -- systems -----------------------------------------------------------------------------
def one_page_pdf(path: str, page: int) -> bytes:
    import pymupdf

    src = pymupdf.open(path)
    out = pymupdf.open()
    out.insert_pdf(src, from_page=page - 1, to_page=page - 1)
    return out.tobytes()


def image_only_pdf(pdf: bytes, dpi: int) -> bytes:
    """The page rendered to pixels, as an image-only PDF of the same size (a scan of it)."""
    import pymupdf

    src = pymupdf.open(stream=pdf, filetype="pdf")
    out = pymupdf.open()
    page = out.new_page(width=src[0].rect.width, height=src[0].rect.height)
    page.insert_image(page.rect, pixmap=src[0].get_pixmap(dpi=dpi))
    return out.tobytes()


_ENGINES = None


def read_gristmill(pdf: bytes) -> str:
    global _ENGINES
    from gristmill.ocr.assemble import assemble
    from gristmill.ocr.docproc import Engines, process_document

    _ENGINES = _ENGINES or Engines()
    msgs = list(process_document({"pdf": pdf, "opts": {"ocr": "cpu", "text_mode": "plain"}}, _ENGINES))
    info = next(m for m in msgs if m["kind"] in ("open", "error"))
    if info["kind"] == "error":
        return ""
    pages = {m["index"]: m for m in msgs if m["kind"] == "page"}
    return assemble(info["pages"], pages).text


def read_pymupdf4llm(pdf: bytes) -> str:
    import pymupdf
    import pymupdf4llm

    return pymupdf4llm.to_markdown(pymupdf.open(stream=pdf, filetype="pdf"), show_progress=False)


SYSTEMS = {"gristmill": read_gristmill, "pymupdf4llm": read_pymupdf4llm}


# -- table finders (--tables): each one's tables as Markdown, scored on the table tests ----
def _markdown(rows) -> str:
    out = []
    for r in rows:
        out.append("| " + " | ".join((c or "").replace("\n", " ").replace("|", "\\|") for c in r) + " |")
        if len(out) == 1:
            out.append("|" + "---|" * len(r))
    return "\n".join(out)


def _find_tables(strategy: str):
    def read(pdf: bytes) -> str:
        import pymupdf

        page = pymupdf.open(stream=pdf, filetype="pdf")[0]
        kw = {} if strategy == "lines" else {"strategy": strategy}
        return "\n\n".join(_markdown(t.extract()) for t in page.find_tables(**kw).tables)
    return read


def _pdfplumber(strategy: str):
    def read(pdf: bytes) -> str:
        import io

        import pdfplumber

        opts = {} if strategy == "lines" else {"vertical_strategy": "text", "horizontal_strategy": "text"}
        with pdfplumber.open(io.BytesIO(pdf)) as doc:
            return "\n\n".join(_markdown(t) for t in doc.pages[0].extract_tables(opts))
    return read


TABLE_FINDERS = {"gristmill (whole page)": read_gristmill, "pymupdf find_tables (lines)": _find_tables("lines"),
                 "pymupdf find_tables (lines_strict)": _find_tables("lines_strict"),
                 "pymupdf find_tables (text)": _find_tables("text"), "pdfplumber (lines)": _pdfplumber("lines"),
                 "pdfplumber (text)": _pdfplumber("text")}


def table_finders(by_page: dict[str, list[dict]], data: str) -> None:
    passed: dict[str, list[int]] = {k: [0, 0] for k in TABLE_FINDERS}
    seconds = dict.fromkeys(TABLE_FINDERS, 0.0)
    pages = 0
    for page, page_tests in by_page.items():
        page_tests = [t for t in page_tests if t["type"] == "table"]
        rel, num = page.rsplit(":", 1)
        if not page_tests or not os.path.exists(os.path.join(data, "pdf", rel)):
            continue
        pdf = one_page_pdf(os.path.join(data, "pdf", rel), int(num))
        pages += 1
        for name, read in TABLE_FINDERS.items():
            t0 = time.perf_counter()
            try:
                text = read(pdf)
            except ImportError:
                text = ""
            seconds[name] += time.perf_counter() - t0
            passed[name][0] += sum(table_test(t, text) for t in page_tests)
            passed[name][1] += len(page_tests)
    print(f"# table finders on {pages} pages with table tests; load average {os.getloadavg()[0]:.2f}")
    print("\n| finder | table tests passed | s/page |\n|---|---|---|")
    for name, (ok, n) in passed.items():
        print(f"| {name} | {ok}/{n} | {seconds[name] / max(pages, 1):.3f} |")


def main(argv=None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data"))
    ap.add_argument("--gold", default=os.path.join(here, "data", "ocr_pages_gold.jsonl"))
    ap.add_argument("--systems", default="gristmill,pymupdf4llm")
    ap.add_argument("--out", help="JSON report (per test results and texts)")
    ap.add_argument("--show", help="print each system's text for pages whose name contains this")
    ap.add_argument("--failures", action="store_true", help="print the failed tests")
    ap.add_argument("--tables", action="store_true", help="compare table finders on the table tests instead")
    ap.add_argument("--as-scan", type=int, metavar="DPI",
                    help="render each page to an image-only PDF at DPI first (the OCR route on every page)")
    ap.add_argument("--only", help="only the tests of this type (e.g. table)")
    args = ap.parse_args(argv)
    systems = args.systems.split(",")
    tests = [json.loads(ln) for ln in open(args.gold, encoding="utf-8") if ln.strip()]
    by_page: dict[str, list[dict]] = defaultdict(list)
    for t in tests:
        if not args.only or t["type"] == args.only:
            by_page[t["page"]].append(t)
    if args.tables:
        table_finders(by_page, args.data)
        return 0
    results: dict[str, list[tuple[dict, bool]]] = {s: [] for s in systems}
    seconds = {s: 0.0 for s in systems}
    skipped, report = [], []
    for page, page_tests in by_page.items():
        rel, num = page.rsplit(":", 1)
        path = os.path.join(args.data, "pdf", rel)
        if not os.path.exists(path):
            skipped.append(page)
            continue
        pdf = one_page_pdf(path, int(num))
        if args.as_scan:
            pdf = image_only_pdf(pdf, args.as_scan)
        entry = {"page": page, "category": page_tests[0]["category"]}
        for s in systems:
            t0 = time.perf_counter()
            text = SYSTEMS[s](pdf)
            seconds[s] += time.perf_counter() - t0
            ok = score(page_tests, text)
            results[s].extend(zip(page_tests, ok))
            entry[s] = {"text": text, "passed": ok}
            if args.show and args.show in page:
                print(f"===== {s} {page}\n{text}\n")
            if args.failures:
                for t, good in zip(page_tests, ok):
                    if not good:
                        print(f"FAIL {s} {page} {json.dumps({k: v for k, v in t.items() if k not in ('page', 'category')}, ensure_ascii=False)}")
        report.append(entry)
    n_pages = len(report)
    print(f"# {n_pages} pages, {sum(len(v) for v in by_page.values())} tests; skipped (PDF absent): {len(skipped)}; "
          f"load average {os.getloadavg()[0]:.2f}")

    def rate(items):
        return f"{sum(ok for _, ok in items) / len(items):.1%} ({sum(ok for _, ok in items)}/{len(items)})" if items else "-"

    for axis in ("type", "category"):
        keys = sorted({t[axis] for t in tests})
        print(f"\n| {axis} | " + " | ".join(systems) + " |")
        print("|---|" + "---|" * len(systems))
        for k in keys:
            print(f"| {k} | " + " | ".join(rate([r for r in results[s] if r[0][axis] == k]) for s in systems) + " |")
        if axis == "type":
            print("| **all tests** | " + " | ".join(f"**{rate(results[s])}**" for s in systems) + " |")
    print("\n| system | pages/s | s/page |\n|---|---|---|")
    for s in systems:
        print(f"| {s} | {n_pages / max(seconds[s], 1e-9):.2f} | {seconds[s] / max(n_pages, 1):.3f} |")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump({"pages": report, "skipped": skipped, "seconds": seconds}, f, ensure_ascii=False, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
