"""The run report of any workdir: the funnel (documents and tokens per step), drops by reason,
score distributions with the selection cut-offs, token composition, the training loss curve
and per-domain validation loss, and the mixture search's plots where the run has one.

`build_report(workdir)` returns the data (written as REPORT.json next to the page);
`report_page(data, run)` the static HTML. Tokens of steps before the tokenizer are estimated
from their UTF-8 size and the run's bytes per token (marked `tokens_estimated`).
"""

from __future__ import annotations

import base64
import glob
import json
import os

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gristmill.pipeline.audit.html import bar_plot, cards, esc, figure, num, page, png, table
from gristmill.pipeline.audit.workdir import Run, open_run, read_manifest, read_train_log, text_bytes
from gristmill.pipeline.layout import list_parts

HIST_BINS = 30


def _step_size(folder: str) -> tuple[int, int | None]:
    """(UTF-8 bytes of the kept texts, tokens when the step has n_tokens) of a step folder."""
    size, tokens, has_tokens = 0, 0, False
    for part in list_parts(folder):
        names = pq.read_schema(part).names
        t = pq.read_table(part, columns=[c for c in ("text", "n_tokens") if c in names])
        size += int(pc.sum(text_bytes(t)).as_py() or 0)
        if "n_tokens" in t.column_names:
            has_tokens = True
            # + 1 EOS per document, as the token folder counts them
            tokens += int(pc.sum(t.column("n_tokens")).as_py() or 0) + t.num_rows
    return size, (tokens if has_tokens else None)


def funnel(run: Run) -> list[dict]:
    rows = [{"step": s.name, "stage": s.stage, "docs_in": s.docs_in, "docs_out": s.docs_out,
             "docs_dropped": s.docs_dropped, **dict(zip(("bytes_out", "tokens_out"), _step_size(s.folder)))}
            for s in run.document_steps]
    measured = [r for r in rows if r["tokens_out"]]
    ratio = (measured[0]["bytes_out"] / measured[0]["tokens_out"]) if measured else 4.0
    for r in rows:
        r["tokens_estimated"] = r["tokens_out"] is None
        if r["tokens_out"] is None:
            r["tokens_out"] = int(round(r["bytes_out"] / ratio))
    return rows


def score_distributions(run: Run) -> list[dict]:
    """Per selection step: the histogram of its input's scores per group, and the cut-offs."""
    out = []
    for s in run.document_steps:
        if not s.stage.startswith("select") or not s.upstream:
            continue
        column, by, cutoffs = _selection(s)
        values: dict[str, list[float]] = {}
        for part in list_parts(s.upstream):
            names = pq.read_schema(part).names
            if column not in names:
                continue
            t = pq.read_table(part, columns=[c for c in (column, by) if c and c in names])
            groups = t.column(by).to_pylist() if by and by in t.column_names else ["*"] * t.num_rows
            for g, v in zip(groups, t.column(column).to_pylist()):
                if v is not None:
                    values.setdefault(g or "*", []).append(float(v))
        hist = {}
        for g in sorted(values):
            counts, edges = np.histogram(values[g], bins=HIST_BINS, range=(0.0, 1.0) if _unit(values) else None)
            hist[g] = {"counts": counts.tolist(), "edges": [round(float(e), 6) for e in edges],
                       "documents": len(values[g]),
                       "kept": sum(1 for v in values[g] if v >= cutoffs.get(g, cutoffs.get("*", -np.inf)))}
        out.append({"step": s.name, "column": column, "by": by,
                    "cutoffs": {k: round(v, 6) for k, v in sorted(cutoffs.items())},
                    "groups": hist})
    return out


def _selection(s) -> tuple[str | None, str | None, dict[str, float]]:
    """(score column, group column, cut-off per group) of a select step: from its params
    (stats.json), its fit (top_fraction), or, inside a running workflow where neither is
    written yet for a threshold step, from its drop log's detail `COLUMN=SCORE<CUTOFF`."""
    fit = s.fit or {}
    column = s.params.get("column") or fit.get("column")
    by = s.params.get("by") or fit.get("by")
    cutoffs = {k: float(v) for k, v in (fit.get("cutoffs") or {}).items()}
    if s.params.get("threshold") is not None:
        cutoffs = {"*": float(s.params["threshold"])}
    if column is None or not cutoffs:
        from gristmill.pipeline.audit.workdir import read_drops

        for detail in read_drops(s.folder).column("detail").to_pylist():
            if detail and "=" in detail and "<" in detail:
                name, rest = detail.split("=", 1)
                column = column or name
                cutoffs = cutoffs or {"*": float(rest.rsplit("<", 1)[1])}
                break
    return column, by, cutoffs


def _unit(values: dict) -> bool:
    vals = [v for vs in values.values() for v in vs]
    return bool(vals) and min(vals) >= 0.0 and max(vals) <= 1.0


def mixture_search(run: Run) -> list[dict]:
    """Steps of the mixture search (tune_mix): their product, and the search's plots (drawn by
    gristmill.mixing.report from the last step whose folder holds a fitted swarm) or any PNGs
    a step wrote."""
    out = []
    steps = [s for s in run.steps if "mix" in s.stage or "mix" in s.name]
    fitted = [s for s in steps if os.path.exists(os.path.join(s.folder, "runs.parquet"))
              and os.path.exists(os.path.join(s.folder, "fit.json"))]
    for s in steps:
        pngs = sorted(glob.glob(os.path.join(s.folder, "**", "*.png"), recursive=True))
        plots = [{"file": os.path.relpath(p, run.root)} for p in pngs]
        if fitted and s is fitted[-1]:
            from gristmill.mixing.report import build

            _, drawn = build(s.folder)
            plots += [{"name": name, "data": uri} for name, uri in sorted(drawn.items())]
        out.append({"step": s.name, "stage": s.stage, "plots": plots,
                    "product": {k: v for k, v in (s.fit or {}).items() if isinstance(v, (int, float, str))}})
    return out


def build_report(path: str) -> dict:
    run = open_run(path)
    manifest = read_manifest(run.token_dir) or {}
    log = read_train_log(run.train_dir)
    evals = [r for r in log if r.get("val_loss_by_domain")]
    fun = funnel(run)
    return {
        "format": "gristmill-report/1",
        "workdir": os.path.basename(run.root),
        "funnel": fun,
        "drops": [{"step": s.name, "reason": k, "documents": v} for s in run.document_steps
                  for k, v in s.dropped_by_reason.items()],
        "scores": score_distributions(run),
        "composition": {k: manifest.get(f"tokens_by_{k}") or {} for k in ("source", "license", "topic")},
        "mixture_total_tokens": manifest.get("total_tokens"),
        "training": {"steps": [r["step"] for r in log], "loss": [r["loss"] for r in log],
                     "last_loss": log[-1]["loss"] if log else None,
                     "eval_steps": [r["step"] for r in evals],
                     "val_loss_by_domain": evals[-1]["val_loss_by_domain"] if evals else {},
                     "val_curves": {d: [r["val_loss_by_domain"].get(d) for r in evals]
                                    for d in (evals[-1]["val_loss_by_domain"] if evals else {})}},
        "mixture_search": mixture_search(run),
        "sinks": [{"step": s.name, "stage": s.stage} for s in run.steps if s.kind == "sink"],
        "_root": run.root,
    }


def report_page(r: dict) -> str:
    parts = [cards([("documents read", num("funnel.0.docs_in", r["funnel"][0]["docs_in"]) if r["funnel"] else "0"),
                    ("documents kept", num(f"funnel.{len(r['funnel']) - 1}.docs_out", r["funnel"][-1]["docs_out"])
                     if r["funnel"] else "0"),
                    ("tokens in the mixture", num("mixture_total_tokens", r["mixture_total_tokens"])
                     if r["mixture_total_tokens"] is not None else "–"),
                    ("last training loss", num("training.last_loss", r["training"]["last_loss"])
                     if r["training"]["last_loss"] is not None else "–")])]
    parts.append("<h2>Funnel</h2>")
    parts.append(table(["step", "stage", "documents in", "documents out", "dropped", "bytes out", "tokens out"],
                       [[esc(f["step"]), esc(f["stage"]), num(f"funnel.{i}.docs_in", f["docs_in"]),
                         num(f"funnel.{i}.docs_out", f["docs_out"]), num(f"funnel.{i}.docs_dropped", f["docs_dropped"]),
                         num(f"funnel.{i}.bytes_out", f["bytes_out"]),
                         num(f"funnel.{i}.tokens_out", f["tokens_out"]) + (" (est.)" if f["tokens_estimated"] else "")]
                        for i, f in enumerate(r["funnel"])], numeric={2, 3, 4, 5, 6}))
    parts.append(_funnel_plot(r["funnel"]))
    parts.append("<h2>Drops by reason</h2>")
    parts.append(table(["step", "reason", "documents"],
                       [[esc(d["step"]), esc(d["reason"]), num(f"drops.{i}.documents", d["documents"])]
                        for i, d in enumerate(r["drops"])], numeric={2}))
    parts.append(bar_plot([f"{d['step']}: {d['reason']}" for d in r["drops"]], [d["documents"] for d in r["drops"]],
                          "Documents dropped per step and reason", "documents"))
    parts.append("<h2>Score distributions and the selection cut-off</h2>")
    for i, s in enumerate(r["scores"]):
        cuts = ", ".join(f"{esc(g)} {num(f'scores.{i}.cutoffs.{g}', c)}" for g, c in s["cutoffs"].items())
        parts.append(f"<p>{esc(s['step'])}: <code>{esc(s['column'])}</code> per {esc(s['by'] or 'corpus')}; "
                     f"cut-offs {cuts}</p>")
        parts.append(_score_plot(s))
    if not r["scores"]:
        parts.append('<p class="muted">no selection step in this run</p>')
    parts.append("<h2>Token composition</h2>")
    for k, comp in r["composition"].items():
        if comp:
            parts.append(f"<h3>by {k}</h3>" + table([k, "tokens"], [[esc(n), num(f"composition.{k}.{n}", v)]
                                                                     for n, v in sorted(comp.items())], numeric={1}))
            parts.append(bar_plot(sorted(comp), [comp[n] for n in sorted(comp)], f"Tokens by {k}", "tokens"))
    parts.append("<h2>Training</h2>")
    tr = r["training"]
    if tr["steps"]:
        parts.append(_loss_plot(tr))
        parts.append(table(["domain", "validation loss (last evaluation)"],
                           [[esc(d), num(f"training.val_loss_by_domain.{d}", v)]
                            for d, v in sorted(tr["val_loss_by_domain"].items())], numeric={1}))
    else:
        parts.append('<p class="muted">this run trained no model</p>')
    parts.append("<h2>Mixture search</h2>")
    if r["mixture_search"]:
        for m in r["mixture_search"]:
            parts.append(f"<p>{esc(m['step'])} ({esc(m['stage'])}): "
                         + esc(", ".join(f"{k}={v}" for k, v in m["product"].items())) + "</p>")
            for p in m["plots"]:
                if "data" in p:  # drawn by the mixing area's report
                    parts.append(f'<img alt="{esc(p["name"])}" src="{p["data"]}">')
                    continue
                with open(os.path.join(r["_root"], p["file"]), "rb") as f:
                    parts.append(f'<img alt="{esc(p["file"])}" src="data:image/png;base64,'
                                 f'{base64.b64encode(f.read()).decode()}">')
    else:
        parts.append('<p class="muted">no mixture search in this run (workflows/tune_mix.yaml runs one)</p>')
    return page(f"Run report: {r['workdir']}", "".join(parts))


def _funnel_plot(rows: list[dict]) -> str:
    if not rows:
        return ""
    plt = figure()
    fig, ax = plt.subplots(1, 2, figsize=(11, 3.8))
    names = [f["step"] for f in rows]
    ax[0].plot(names, [f["docs_out"] for f in rows], marker="o", color="#2f6f4f")
    ax[0].set_title("documents after each step")
    ax[1].plot(names, [f["tokens_out"] for f in rows], marker="o", color="#8250df")
    ax[1].set_title("tokens after each step (est. before tokenize)")
    for a in ax:
        a.tick_params(axis="x", rotation=60)
        a.set_ylim(bottom=0)
    return png(fig, "funnel")


def _score_plot(s: dict) -> str:
    plt = figure()
    fig, ax = plt.subplots(figsize=(9, 3.6))
    for g, h in s["groups"].items():
        edges = np.array(h["edges"])
        ax.step(edges[:-1], h["counts"], where="post", label=g)
        cut = s["cutoffs"].get(g, s["cutoffs"].get("*"))
        if cut is not None:
            ax.axvline(cut, linestyle="--", linewidth=1, color=ax.lines[-1].get_color())
    ax.set_xlabel(s["column"])
    ax.set_ylabel("documents")
    ax.set_title(f"{s['step']}: scores (dashed: cut-off per group)")
    ax.legend(fontsize=8)
    return png(fig, f"scores {s['step']}")


def _loss_plot(tr: dict) -> str:
    plt = figure()
    fig, ax = plt.subplots(figsize=(9, 3.8))
    ax.plot(tr["steps"], tr["loss"], label="train loss", color="#2f6f4f")
    for d, ys in tr["val_curves"].items():
        ax.plot(tr["eval_steps"], ys, marker="o", linestyle="--", label=f"val {d}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("training loss and per-domain validation loss")
    return png(fig, "loss")


def write_report(path: str, out_html: str) -> dict[str, str]:
    data = build_report(path)
    os.makedirs(os.path.dirname(os.path.abspath(out_html)), exist_ok=True)
    out_json = os.path.splitext(out_html)[0] + ".json"
    with open(out_html, "w", encoding="utf-8") as f:
        f.write(report_page(data))
    public = {k: v for k, v in data.items() if not k.startswith("_")}
    # the page embeds the mixture-search plots; the JSON names them
    public["mixture_search"] = [{**m, "plots": [{k: v for k, v in p.items() if k != "data"} for p in m["plots"]]}
                                for m in data["mixture_search"]]
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump(public, f, indent=2, sort_keys=True)
        f.write("\n")
    return {"html": out_html, "json": out_json}
