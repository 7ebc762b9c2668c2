"""`gristmill mix report`: one static HTML page (plots embedded as PNG data URIs, no network)
and report.json with the numbers the page shows.

Plots: out-of-fold predicted vs actual per metric with its Spearman rho; the proposal beside
the prior, UniMax and the caps; the swarm's weight distribution per domain; each domain's
metric against its own weight. Tables: out-of-fold scores per model and metric, and the
proposal vs natural / uniform / UniMax with their predicted metrics.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os

import numpy as np

from gristmill.mixing.runs import FIT, read_runs, read_swarm, write_json
from gristmill.mixing.search import PROPOSAL


def _load(path: str) -> dict | None:
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _grid(n: int):
    import matplotlib.pyplot as plt

    cols = min(4, max(n, 1))
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.1 * rows), squeeze=False, layout="constrained")
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return fig, axes.ravel()


def build(mix_dir: str) -> tuple[dict, dict[str, str]]:
    """(report.json content, {plot name: data URI})."""
    import matplotlib

    matplotlib.use("Agg")
    swarm, runs = read_swarm(mix_dir), read_runs(mix_dir)
    fit, proposal = _load(os.path.join(mix_dir, FIT)), _load(os.path.join(mix_dir, PROPOSAL))
    domains, metrics = swarm["domains"], [m for m in swarm["metrics"] if m in runs.columns]
    X = runs[domains].to_numpy(float)
    report = {"mix_dir": os.path.abspath(mix_dir), "runs": int(len(runs)), "domains": domains, "metrics": metrics,
              "weights_mean": {d: round(float(X[:, i].mean()), 4) for i, d in enumerate(domains)}}
    plots = {}
    fig, axes = _grid(len(domains))
    for ax, i in zip(axes, range(len(domains))):
        ax.hist(X[:, i], bins=20, color="#4c72b0")
        ax.set_title(f"{domains[i]} weight", fontsize=9)
    plots["weights"] = _png(fig)
    own = [(d, f"bpb_{d}") for d in domains if f"bpb_{d}" in runs.columns] or [(d, metrics[0]) for d in domains]
    fig, axes = _grid(len(own))
    for ax, (d, m) in zip(axes, own):
        ax.scatter(runs[d], runs[m], s=10)
        ax.set_xlabel(f"weight of {d}", fontsize=8)
        ax.set_ylabel(m, fontsize=8)
    plots["metric_vs_weight"] = _png(fig)
    if fit:
        chosen = fit["chosen"]
        report["fit"] = {"chosen": chosen, "models": fit["models"]}
        oof = fit["out_of_fold"][chosen]
        fitted = [m for m in fit["metrics"] if m in runs.columns]
        fig, axes = _grid(len(fitted))
        for ax, m in zip(axes, fitted):
            pred = np.array([np.nan if v is None else v for v in oof[m]], float)
            ax.scatter(pred, runs[m].to_numpy(float), s=10)
            lo, hi = np.nanmin([pred.min(), runs[m].min()]), np.nanmax([pred.max(), runs[m].max()])
            ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8)
            ax.set_title(f"{m}: rho {fit['models'][chosen][m]['spearman']:.3f}", fontsize=9)
            ax.set_xlabel("predicted (out of fold)", fontsize=8)
            ax.set_ylabel("actual", fontsize=8)
        plots["predicted_vs_actual"] = _png(fig)
    if proposal:
        import matplotlib.pyplot as plt

        report["proposal"] = {k: proposal[k] for k in ("weights", "caps", "baselines", "compare", "model", "prior",
                                                        "budget_tokens", "max_epochs", "kl_weight")}
        fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(domains)), 3.2))
        x = np.arange(len(domains))
        bars = [("proposal", proposal["weights"]), ("natural", proposal["baselines"]["natural"]),
                ("unimax", proposal["baselines"]["unimax"])]
        for k, (name, w) in enumerate(bars):
            ax.bar(x + (k - 1) * 0.27, [w[d] for d in domains], width=0.27, label=name)
        ax.scatter(x, [min(proposal["caps"][d], 1.0) for d in domains], marker="_", s=400, color="black", label="cap")
        ax.set_xticks(x, domains, rotation=30, fontsize=8)
        ax.set_ylabel("weight")
        ax.legend(fontsize=8)
        plots["proposal"] = _png(fig)
    return report, plots


def _table(header: list[str], rows: list[list], keys: list[list[str | None]] | None = None) -> str:
    out = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"]
    for r, row in enumerate(rows):
        cells = []
        for c, v in enumerate(row):
            key = keys[r][c] if keys else None
            text = f"{v:.4f}" if isinstance(v, float) else html.escape(str(v))
            cells.append(f'<td data-key="{html.escape(key)}">{text}</td>' if key else f"<td>{text}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "\n".join(out) + "</table>"


def render(report: dict, plots: dict[str, str]) -> str:
    parts = [f"<h1>Mixture search: {report['runs']} runs, {len(report['domains'])} domains</h1>",
             f"<p>{html.escape(report['mix_dir'])}</p>"]
    if "fit" in report:
        models = report["fit"]["models"]
        metrics = [m for m in next(iter(models.values())) if m != "mean"] + ["mean"]
        rows = [[name, *[per[m]["spearman"] for m in metrics], per["mean"]["regret_at_1"]] for name, per in models.items()]
        keys = [[None, *[f"fit.models.{name}.{m}.spearman" for m in metrics], f"fit.models.{name}.mean.regret_at_1"]
                for name in models]
        parts += [f"<h2>Out-of-fold Spearman (model used by propose: {report['fit']['chosen']})</h2>",
                  _table(["model", *metrics, "regret@1 (mean)"], rows, keys),
                  f'<h2>Predicted vs actual, out of fold</h2><img alt="predicted vs actual" src="{plots["predicted_vs_actual"]}">']
    if "proposal" in report:
        p = report["proposal"]
        names = ["proposal", *p["baselines"]]
        weights = {"proposal": p["weights"], **p["baselines"]}
        rows = [[n, *[weights[n][d] for d in report["domains"]], p["compare"][n]["predicted_mean"],
                 "yes" if p["compare"][n]["within_caps"] else "no"] for n in names]
        rows.append(["cap", *[p["caps"][d] for d in report["domains"]], "", ""])
        keys = [[None, *[f"proposal.weights.{d}" if n == "proposal" else None for d in report["domains"]],
                 f"proposal.compare.{n}.predicted_mean", None] for n in names] + [[None] * (len(report["domains"]) + 3)]
        parts += [f"<h2>Proposal ({p['model']}, KL {p['kl_weight']} to {p['prior']}; budget {p['budget_tokens']}, "
                  f"max epochs {p['max_epochs']})</h2>",
                  _table(["mixture", *report["domains"], "predicted mean", "within caps"], rows, keys),
                  f'<img alt="proposal" src="{plots["proposal"]}">']
    parts += [f'<h2>Swarm weight distributions</h2><img alt="weights" src="{plots["weights"]}">',
              f'<h2>Metric vs weight, per domain</h2><img alt="metric vs weight" src="{plots["metric_vs_weight"]}">']
    style = ("body{font-family:sans-serif;margin:2em;max-width:1300px} table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:right} img{max-width:100%}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>gristmill mix report</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")


def write_report(mix_dir: str, out_html: str) -> dict:
    report, plots = build(mix_dir)
    os.makedirs(os.path.dirname(os.path.abspath(out_html)), exist_ok=True)
    with open(out_html, "w") as f:
        f.write(render(report, plots))
    out_json = os.path.join(os.path.dirname(os.path.abspath(out_html)), "report.json")
    write_json(report, out_json)
    return {"html": out_html, "json": out_json, "report": report}
