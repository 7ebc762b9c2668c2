"""Fidelity checks on one generation, each a named drop reason, every metric kept.

`clean()` strips the required prefix, markdown emphasis/headers and wrapping quotes (as
Nemotron-CC's post-processing does). `measure()` computes the metrics; `verdict()` turns
them into the first reason that fires, under the style's thresholds. The metrics are kept
as columns on accepted rows and in the drop log's detail, so thresholds can be retuned
without regenerating.

Order of reasons: truncated, refusal, missing_prefix, repetition_loop, too_short, too_long,
copy, lost_numbers, invented_numbers, lost_entities.
"""

from __future__ import annotations

import re
from collections import Counter

from gristmill.pipeline.rephrase.styles import Style

REASONS = ("truncated", "refusal", "missing_prefix", "repetition_loop", "too_short", "too_long", "copy",
           "lost_numbers", "invented_numbers", "lost_entities")

_REFUSALS = re.compile(r"\b(I (?:can(?:no|')t|am unable to|won't|will not) (?:help|assist|comply|provide|do that|"
                       r"fulfil|fulfill)|I'm (?:sorry|unable)|as an AI(?: language model)?|I apologi[sz]e, but)",
                       re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\w])")
_ENTITY = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*")
_WORD = re.compile(r"\w+", re.UNICODE)


def clean(text: str, prefix: str | None) -> tuple[str, bool]:
    """(cleaned text, whether the required prefix was there)."""
    out = text.strip()
    had = prefix is None
    if prefix:
        at = out.lower().find(prefix.lower())
        if at != -1 and at < 200:
            out, had = out[at + len(prefix):], True
    out = re.sub(r"^#{1,6}\s*", "", out, flags=re.MULTILINE)
    out = re.sub(r"\*\*(.+?)\*\*|__(.+?)__", lambda m: m.group(1) or m.group(2), out)
    out = out.strip()
    if len(out) >= 2 and out[0] == out[-1] and out[0] in "\"'`":
        out = out[1:-1].strip()
    return out, had


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def ngram_overlap(output: list[str], source: list[str], n: int = 8) -> float:
    """Share of the output's n-grams that are also the source's (1.0 = a verbatim copy)."""
    if len(output) < n:
        n = max(1, len(output))
    grams = [tuple(output[i:i + n]) for i in range(len(output) - n + 1)]
    if not grams:
        return 0.0
    src = {tuple(source[i:i + n]) for i in range(len(source) - n + 1)}
    return sum(g in src for g in grams) / len(grams)


def repetition(output: list[str], n: int = 4) -> float:
    """Share of the output's 4-grams that repeat an earlier one: a looping model tends to 1."""
    grams = [tuple(output[i:i + n]) for i in range(len(output) - n + 1)]
    if len(grams) < 8:
        return 0.0
    counts = Counter(grams)
    return sum(c - 1 for c in counts.values()) / len(grams)


def numbers(text: str) -> set[str]:
    return {m.replace(",", "") for m in _NUMBER.findall(text)}


def entities(text: str) -> set[str]:
    """Capitalised words not at a sentence start: a cheap stand-in for named entities."""
    out = set()
    for m in _ENTITY.finditer(text):
        out.update(w.lower() for w in m.group(0).split())
    return out


def measure(source: str, raw_output: str, style: Style, count_tokens, completion_tokens: int | None,
            finish_reason: str | None, max_new_tokens: int) -> dict:
    cleaned, had_prefix = clean(raw_output, style.prefix)
    src_words, out_words = words(source), words(cleaned)
    src_tokens = max(1, count_tokens(source))
    out_tokens = count_tokens(cleaned)
    src_nums, out_nums = numbers(source), numbers(cleaned)
    src_ents, out_ents = entities(source), set(words(cleaned))
    return {
        "text": cleaned,
        "finish_reason": finish_reason,
        "had_prefix": had_prefix,
        "output_tokens": out_tokens,
        "completion_tokens": completion_tokens if completion_tokens is not None else out_tokens,
        "length_ratio": out_tokens / src_tokens,
        "copy_overlap": ngram_overlap(out_words, src_words),
        "repetition": repetition(out_words),
        "lost_numbers": (len(src_nums - out_nums) / len(src_nums)) if src_nums else 0.0,
        "invented_numbers": len(out_nums - src_nums),
        "lost_entities": (len(src_ents - out_ents) / len(src_ents)) if len(src_ents) >= 3 else 0.0,
        "refusal": bool(_REFUSALS.search(cleaned[:300])),
        "near_cap": (completion_tokens or 0) >= style.thresholds.near_cap * max_new_tokens,
    }


def verdict(m: dict, style: Style) -> str | None:
    """The first check that fails (a reason from REASONS), or None: accepted."""
    t = style.thresholds
    if m["finish_reason"] != "stop" or m["near_cap"]:
        return "truncated"
    if m["refusal"]:
        return "refusal"
    if not m["had_prefix"]:
        return "missing_prefix"
    if m["repetition"] > 0.3:
        return "repetition_loop"
    if m["output_tokens"] < t.min_tokens or m["length_ratio"] < t.min_ratio:
        return "too_short"
    if m["length_ratio"] > t.max_ratio:
        return "too_long"
    if m["copy_overlap"] > t.max_copy:
        return "copy"
    if t.check_numbers and m["lost_numbers"] > t.max_lost_numbers:
        return "lost_numbers"
    if t.check_numbers and m["invented_numbers"] > t.max_invented_numbers:
        return "invented_numbers"
    if m["lost_entities"] > t.max_lost_entities:
        return "lost_entities"
    return None
