"""Static HTML pieces shared by the audit page and the run report: one self-contained file,
plots as inline PNG (matplotlib, Agg), every number that comes from the JSON tagged with
`data-key` (its path in that JSON) so a test can compare the page with the data.
"""

from __future__ import annotations

import base64
import html
import io

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1150px;color:#1f2328;
background:#fff}
h1{border-bottom:3px solid #2f6f4f;padding-bottom:.3em}h2{color:#2f6f4f;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:14px}th,td{border:1px solid #d0d7de;padding:4px 9px}
th{background:#eef5f0;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.pass{background:#2da44e;color:#fff;padding:1px 7px;border-radius:9px}.fail{background:#cf222e;color:#fff;
padding:1px 7px;border-radius:9px}.muted{color:#656d76}img{max-width:100%;border:1px solid #d0d7de;margin:.4em 0}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #d0d7de;border-radius:8px;padding:10px 16px;
background:#f6f8fa}.card b{display:block;font-size:22px;color:#2f6f4f}
"""


def esc(x) -> str:
    return html.escape("" if x is None else str(x))


def fmt(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.4f}".rstrip("0").rstrip(".") if v != int(v) or abs(v) < 1 else f"{v:,.1f}"
    return esc(v)


def num(key: str, v) -> str:
    """A number from the JSON, tagged with its path (the page test reads these back)."""
    return f'<span data-key="{esc(key)}">{fmt(v)}</span>'


def table(headers: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>" if rows else '<p class="muted">none</p>'


def cards(items: list[tuple[str, str]]) -> str:
    return '<div class="cards">' + "".join(f'<div class="card"><b>{v}</b>{esc(k)}</div>' for k, v in items) + "</div>"


def badge(ok: bool) -> str:
    return '<span class="pass">pass</span>' if ok else '<span class="fail">FAIL</span>'


def page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{esc(title)}</h1>{body}</body></html>\n")


def figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(fig, alt: str) -> str:
    """The figure as an inline <img> (closes it)."""
    plt = figure()
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def bar_plot(labels: list[str], values: list[float], title: str, xlabel: str = "", horizontal: bool = True) -> str:
    if not labels:
        return ""
    plt = figure()
    fig, ax = plt.subplots(figsize=(8, max(2.2, 0.32 * len(labels) + 1)) if horizontal else (8, 3.5))
    if horizontal:
        ax.barh(labels[::-1], values[::-1], color="#2f6f4f")
        ax.set_xlabel(xlabel)
    else:
        ax.bar(labels, values, color="#2f6f4f")
        ax.set_ylabel(xlabel)
        ax.tick_params(axis="x", rotation=45)
    ax.set_title(title)
    return png(fig, title)
