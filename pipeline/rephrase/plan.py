"""What to ask for: documents -> requests (one per document, style, segment and rollout).

The same plan is built by the fit (which sends the requests) and by each shard's process
(which reads the answers back from the request cache), so both agree without passing
requests around: a plan depends only on the documents and the stage's parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

from gristmill.pipeline.rephrase.policy import not_sent_reason
from gristmill.pipeline.rephrase.styles import Style, choose_styles, eval_condition, get_style, segment

# pre-tokenizer pieces (words, numbers, punctuation runs): a server-independent token count
# close to a BPE's for English prose; used for segment budgets and length checks
_PIECE = re.compile(r"\w+|[^\w\s]+", re.UNICODE)


def count_tokens(text: str) -> int:
    return len(_PIECE.findall(text))


@dataclass
class Item:
    doc_id: str
    row: int          # row of the document in its shard
    style: Style
    segment: int
    rollout: int
    text: str         # the segment sent
    payload: dict

    @property
    def request_id(self) -> str:  # the cache's document id: one per segment and style
        return f"{self.doc_id}#{self.style.versioned}#{self.segment}"


def policy_reasons(table: pa.Table, require_license: bool) -> list[str | None]:
    lic = table.column("license").to_pylist() if "license" in table.column_names else [None] * table.num_rows
    opt = table.column("opt_out").to_pylist() if "opt_out" in table.column_names else [None] * table.num_rows
    return [not_sent_reason(lic[i], opt[i], require_license) for i in range(table.num_rows)]


def eligible_rows(table: pa.Table, cfg) -> tuple[list[int], dict[str, int]]:
    """Rows that may be rephrased (policy, then --select), and why the others are not sent."""
    reasons = policy_reasons(table, cfg.require_license)
    rows = table.to_pylist() if cfg.select else None
    out, not_sent = [], {}
    for i, r in enumerate(reasons):
        if r is not None:
            not_sent[r] = not_sent.get(r, 0) + 1
        elif cfg.select and not eval_condition(cfg.select, rows[i]):
            not_sent["not_selected"] = not_sent.get("not_selected", 0) + 1
        else:
            out.append(i)
    return out, not_sent


def items_for(table: pa.Table, rows: list[int], cfg, model: str) -> list[Item]:
    ids = table.column("id").to_pylist()
    texts = table.column("text").to_pylist()
    records = table.to_pylist() if cfg.styles_by else None
    out = []
    for i in rows:
        names = choose_styles(cfg.styles_by, records[i], [cfg.style]) if records else [cfg.style]
        for name in names:
            style = get_style(name)
            segs = segment(texts[i] or "", cfg.input_tokens or style.input_tokens, count_tokens)
            for s, seg in enumerate(segs[:cfg.max_segments] if cfg.max_segments else segs):
                for r in range(cfg.rollouts):
                    out.append(Item(ids[i], i, style, s, r, seg, payload(style, seg, cfg, model, r)))
    return out


def sampling(style: Style, cfg, rollout: int) -> dict:
    return {"temperature": style.temperature if cfg.temperature is None else cfg.temperature,
            "top_p": style.top_p if cfg.top_p is None else cfg.top_p,
            "max_tokens": cfg.max_new_tokens, "seed": cfg.seed + rollout}


def payload(style: Style, text: str, cfg, model: str, rollout: int) -> dict:
    return {"model": model, "messages": style.messages(text), **sampling(style, cfg, rollout)}
