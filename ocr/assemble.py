"""One PDF's page results to one document: running headers and page numbers removed
across pages, pages joined with blank lines, page boundaries kept as character offsets."""

from __future__ import annotations

from dataclasses import dataclass, field

from gristmill.ocr.layout import Line, remove_running_lines, render
from gristmill.ocr.margins import strip_margins

PAGE_SEPARATOR = "\n\n"


@dataclass
class Assembled:
    text: str
    page_offsets: list[int]       # start of each page's text in `text`
    engines: list[str]            # engine per page: pymupdf, pymupdf4llm, rapidocr-cpu, vlm:<model>, none
    routes: list[str]             # route:reason per page, e.g. "ocr:no_text_layer"
    pages_ocr: int
    pages_failed: int
    running_lines_removed: int
    counters: dict[str, int] = field(default_factory=dict)


def _lines(raw) -> list[Line]:
    return [Line(*t) for t in raw]  # (text, x0, y0, x1, y1, para_break[, table[, line_h]])


def assemble(n_pages: int, pages: dict[int, dict], remove_running: bool = True) -> Assembled:
    """`pages[i]` is a worker `page` message (possibly with `text` set by a VLM)."""
    ordered = [pages.get(i) or {"route": "failed", "reason": "missing_page", "engine": "none", "lines": []}
               for i in range(n_pages)]
    # Header/footer removal works on positioned lines; pages that arrive as text (Markdown
    # from pymupdf4llm, a VLM's answer) were cleaned by their engine.
    with_lines = [i for i, p in enumerate(ordered) if "text" not in p]
    removed = 0
    page_lines = {i: _lines(ordered[i].get("lines") or []) for i in with_lines}
    margin_removed = 0
    if remove_running:
        # Each page alone first (position, size, isolation, patterns), then repetition across pages.
        for i in with_lines:
            lines = page_lines[i]
            width = float(ordered[i].get("width") or max((ln.x1 for ln in lines), default=1.0))
            page_lines[i], n = strip_margins(lines, width, float(ordered[i].get("height") or 1.0))
            margin_removed += n
    if remove_running and with_lines:
        cleaned, removed = remove_running_lines([page_lines[i] for i in with_lines],
                                                [float(ordered[i].get("height") or 1.0) for i in with_lines])
        page_lines = dict(zip(with_lines, cleaned))
    texts = [ordered[i]["text"] if i not in page_lines else render(page_lines[i]) for i in range(n_pages)]
    offsets, parts, pos = [], [], 0
    for t in texts:
        t = t.strip()
        offsets.append(pos)
        if t:
            if parts:
                parts.append(PAGE_SEPARATOR)
                pos += len(PAGE_SEPARATOR)
                offsets[-1] = pos
            parts.append(t)
            pos += len(t)
    counters: dict[str, int] = {"margin_lines_removed": margin_removed} if margin_removed else {}
    for p in ordered:
        key = f"route_{p.get('route', 'failed')}:{p.get('reason', '')}"
        counters[key] = counters.get(key, 0) + 1
    return Assembled(
        text="".join(parts), page_offsets=offsets,
        engines=[str(p.get("engine", "none")) for p in ordered],
        routes=[f"{p.get('route')}:{p.get('reason')}" for p in ordered],
        pages_ocr=sum(1 for p in ordered if p.get("route") == "ocr"),
        pages_failed=sum(1 for p in ordered if p.get("route") == "failed"),
        running_lines_removed=removed, counters=counters)
