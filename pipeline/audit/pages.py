"""The audit page (audit.html): audit.json for a person, with its plots."""

from __future__ import annotations

from gristmill.pipeline.audit.html import bar_plot, badge, cards, esc, fmt, num, page, table


def audit_page(a: dict) -> str:
    lv = a["levels"]
    parts = [f'<p class="muted">Run <b>{esc(a["run"]["workdir"])}</b>, token folder '
             f'<code>{esc(a["run"]["token_folder"])}</code>, mixture by {esc(a["run"]["mixture_by"])}.</p>']
    parts.append(cards([("unique tokens", num("levels.unique_tokens", lv["unique_tokens"])),
                        ("tokens in the mixture", num("levels.mixture_tokens", lv["mixture_tokens"])),
                        ("tokens trained on", num("levels.trained_tokens", lv["trained_tokens"])
                         if lv["trained_tokens"] is not None else "not trained"),
                        ("documents", num("levels.unique_documents", lv["unique_documents"]))]))
    parts.append("<h2>Checks</h2>")
    parts.append(table(["check", "result", "numbers"],
                       [[esc(c["name"]), badge(c["pass"]),
                         esc(", ".join(f"{k}={v}" for k, v in c.items() if k not in ("name", "pass")))]
                        for c in a["checks"]]))
    parts.append("<h2>Licence ledger</h2>")
    rows = []
    for i, r in enumerate(a["licenses"]):
        key = f"licenses.{i}"
        rows.append([esc(r["license"]), esc(r["use"]), fmt(r["attribution"]), fmt(r["share_alike"]),
                     fmt(r["no_derivatives"]), num(f"{key}.documents", r["documents"]),
                     num(f"{key}.unique_tokens", r["unique_tokens"]), num(f"{key}.mixture_tokens", r["mixture_tokens"]),
                     num(f"{key}.trained_tokens", r["trained_tokens"]) if r["trained_tokens"] is not None else "–",
                     num(f"{key}.share", r["share"]),
                     esc(", ".join(f"{k}: {v}" for k, v in r["found_by"].items()))])
    parts.append(table(["licence", "use", "attribution", "share-alike", "no derivatives", "documents", "unique tokens",
                        "tokens in mixture", "tokens trained", "share", "how found"], rows, numeric={5, 6, 7, 8, 9}))
    parts.append(bar_plot([r["license"] for r in a["licenses"]], [r["mixture_tokens"] for r in a["licenses"]],
                          "Tokens in the mixture per licence", "tokens"))
    parts.append("<h2>Licence conflicts inside duplicate clusters</h2>")
    parts.append(table(["step", "cluster", "kept copy", "kept licence", "licences in cluster", "governing",
                        "kept carries governing"],
                       [[esc(c["step"]), esc(c["cluster"]), esc(c["kept_id"]), esc(c["kept_license"]),
                         esc(", ".join(c["licenses"])), esc(c["governing_license"]), fmt(c["kept_carries_governing"])]
                        for c in a["conflicts"]]))
    opt = a["optouts"]
    parts.append("<h2>Opt-outs</h2>")
    parts.append(f'<p>Signals checked: robots.txt for {esc(", ".join(opt["signals_checked"]["robots_txt_agents"]))}; '
                 f'{esc(", ".join(opt["signals_checked"]["meta_and_header"]))} (meta robots, X-Robots-Tag); TDMRep. '
                 "Opted-out tokens in the mixture: "
                 f'{num("optouts.text_optout_tokens_in_mixture", opt["text_optout_tokens_in_mixture"])}.</p>')
    parts.append(table(["signal", "documents removed", "est. tokens removed", "domains", "steps"],
                       [[esc(r["signal"]), num(f"optouts.removed.{i}.documents", r["documents"]),
                         num(f"optouts.removed.{i}.est_tokens", r["est_tokens"]),
                         num(f"optouts.removed.{i}.domains", r["domains"]), esc(", ".join(r["steps"]))]
                        for i, r in enumerate(opt["removed"])], numeric={1, 2, 3}))
    if opt["in_mixture"]:
        parts.append("<p>Signals on kept documents (none reserves text mining when the check passes):</p>")
        parts.append(table(["signal", "documents", "tokens in mixture", "reserves text mining"],
                           [[esc(r["signal"]), fmt(r["documents"]), fmt(r["mixture_tokens"]),
                             fmt(r["reserves_text_mining"])] for r in opt["in_mixture"]], numeric={1, 2}))
    parts.append("<h2>Exclusions by step and reason</h2>")
    for kind, title in (("filter", "Filters"), ("dedupe", "Deduplication")):
        rows = [[esc(e["step"]), esc(e["reason"]), num(f"exclusions.{i}.documents", e["documents"]),
                 num(f"exclusions.{i}.bytes", e["bytes"]), num(f"exclusions.{i}.est_tokens", e["est_tokens"])]
                for i, e in enumerate(a["exclusions"]) if e["kind"] == kind]
        parts.append(f"<h3>{title}</h3>" + table(["step", "reason", "documents", "bytes", "est. tokens"], rows,
                                                 numeric={2, 3, 4}))
    parts.append(bar_plot([f"{e['step']}: {e['reason']}" for e in a["exclusions"]],
                          [e["documents"] for e in a["exclusions"]], "Documents excluded per step and reason", "documents"))
    top = a["top_domains"]
    parts.append("<h2>Top domains by content scraped</h2>")
    parts.append(f'<p>{num("top_domains.listed", top["listed"])} of '
                 f'{num("top_domains.domains_total", top["domains_total"])} '
                 f'domains (⌈0.1·N⌉), {num("top_domains.listed_bytes", top["listed_bytes"])} of '
                 f'{num("top_domains.scraped_bytes_total", top["scraped_bytes_total"])} bytes scraped.</p>')
    parts.append(table(["rank", "domain", "bytes", "documents", "tokens in mixture"],
                       [[fmt(r["rank"]), esc(r["domain"]), num(f"top_domains.rows.{i}.bytes", r["bytes"]),
                         fmt(r["documents"]), fmt(r["mixture_tokens"])] for i, r in enumerate(top["rows"])],
                       numeric={0, 2, 3, 4}))
    parts.append(bar_plot([r["domain"] for r in top["rows"]], [r["bytes"] for r in top["rows"]],
                          "Top domains by bytes scraped", "bytes"))
    parts.append("<h2>Synthetic lineage</h2>")
    parts.append(table(["document", "parent", "parent licence", "generator", "inherited licence", "ND ancestors"],
                       [[esc(r["id"]), esc(r["parent_id"]), esc(r["parent_license"]), esc(r["generator"]),
                         esc(r["inherited_license"]), esc(", ".join(r["nd_ancestors"]) or "none")]
                        for r in a["lineage"]]))
    parts.append(f'<h2>Attribution</h2><p>{num("attribution_documents", a["attribution_documents"])} documents need '
                 "attribution: see <code>attribution.csv</code>.</p>")
    parts.append("<h2>Languages</h2>" + table(["language", "documents"],
                                              [[esc(k), fmt(v)] for k, v in a["languages"].items()], numeric={1}))
    return page("Licensing audit", "".join(parts))
