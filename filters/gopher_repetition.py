"""`gopher_repetition`: the Gopher repetition rules (Rae et al. 2021, table A1), column-wise.

One reason per rule, in datatrove's order: `gopher_rep_empty`, `gopher_dup_para_frac`,
`gopher_dup_para_char_frac`, `gopher_dup_line_frac`, `gopher_dup_line_char_frac`,
`gopher_top_<n>_gram` (characters of the most frequent n-gram x its count),
`gopher_dup_<n>_gram` (characters of words inside repeated n-grams). Character
fractions are over the whole text, as in datatrove.

Repeated n-grams: the Gopher definition walks each document greedily (after a repeat it
jumps n words ahead and never records the n-grams it skipped), which is sequential. The
columnar pass computes an upper bound (characters of all words covered by any non-first
occurrence); only documents whose bound crosses a threshold, the few about to be dropped,
get the exact greedy walk, over integer word hashes.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from gristmill.filters import text_columns as tc
from gristmill.pipeline.params import param
from gristmill.pipeline.stage import StageOutput, split_by_reason


def duplicate_parts(parts: pl.Expr, texts: pl.Series, prefix: str) -> pl.DataFrame:
    """Per document: number of parts, of repeated parts (all but the first copy) and their chars."""
    p = pl.DataFrame({"t": texts}).with_row_index("doc").select("doc", part=parts).explode("part", keep_nulls=False, empty_as_null=False)
    agg = p.with_columns(rep=~pl.col("part").is_first_distinct().over("doc")).group_by("doc").agg(
        **{f"{prefix}_n": pl.len(), f"{prefix}_dup": pl.col("rep").sum(),
           f"{prefix}_dup_chars": pl.col("part").str.len_chars().filter(pl.col("rep")).sum()})
    return tc.per_doc(agg, len(texts), {f"{prefix}_n": 0, f"{prefix}_dup": 0, f"{prefix}_dup_chars": 0})


def greedy_repeated_chars(hashes: list[int], lens: list[int], n: int) -> int:
    """Characters of repeated n-grams, walked as Gopher does (jump n words after a repeat)."""
    cum = [0]
    for ln in lens:
        cum.append(cum[-1] + ln)
    seen, i, rep = set(), 0, 0
    while i < len(hashes) - n + 1:
        key = tuple(hashes[i:i + n])
        if key in seen:
            rep, i = rep + cum[i + n] - cum[i], i + n
        else:
            seen.add(key)
            i += 1
    return rep


def ngram_stats(texts: pl.Series, top_ns, dup_ns, dup_fracs=None) -> pl.DataFrame:
    """Per document: chars of the top n-gram x count (top_<n>), chars in repeated n-grams (dup_<n>).

    dup_<n> is exact for documents whose bound exceeds `dup_fracs` of their characters (all
    documents if dup_fracs is None) and an upper bound for the others."""
    w = tc.exploded_words(texts).with_columns(h=pl.col("word").hash(), n_words=pl.len().over("doc"))
    out = pl.DataFrame({"doc": pl.arange(0, len(texts), eager=True).cast(w.schema["doc"])})
    for n in top_ns:  # most frequent n-gram; ties go to the one seen first (Counter.most_common)
        g = w.with_columns(k=tc.ngram_hash(pl.col("h"), n, pl.col("doc")),
                           chars=tc.window_sum(pl.col("len"), n) + (n - 1)) \
             .filter(pl.col("pos") <= pl.col("n_words") - n)
        # only repeated n-grams need counting; elsewhere the top one is the first, seen once
        rep = (g.filter(pl.col("k").is_duplicated().over("doc"))
               .group_by("k").agg(pl.col("doc").first(), cnt=pl.len(), first=pl.col("pos").min(), chars=pl.col("chars").first())
               .sort("doc", "cnt", "first", descending=[False, True, False]).unique("doc", keep="first", maintain_order=True)
               .select("doc", rep=pl.col("cnt") * pl.col("chars")))
        first = g.filter(pl.col("pos") == 0).select("doc", once=pl.col("chars"))
        out = out.join(first, on="doc", how="left").join(rep, on="doc", how="left").with_columns(
            pl.coalesce("rep", "once").alias(f"top_{n}")).drop("rep", "once")
    if dup_ns:  # words covered by any repeated occurrence of an n-gram: an upper bound (see module doc)
        reps = {n: ((pl.col("pos") <= pl.col("n_words") - n)
                    & ~tc.ngram_hash(pl.col("h"), n).is_first_distinct().over("doc")).cast(pl.Int8) for n in dup_ns}
        # windows may reach into the previous document's tail, whose flags are always 0
        covered = w.select("doc", "len", *[(pl.col("len") * r.rolling_max(window_size=n, min_samples=1)).alias(f"dup_{n}")
                                           for n, r in reps.items()])
        out = out.join(covered.group_by("doc").agg(pl.col(f"dup_{n}").sum() for n in dup_ns), on="doc", how="left")
    out = out.sort("doc").fill_null(0)
    if not dup_ns:
        return out
    chars = texts.str.len_chars()
    over = pl.lit(dup_fracs is None)
    for n, f in zip(dup_ns, dup_fracs or dup_ns):
        over = over | (pl.col(f"dup_{n}") > pl.lit(chars) * f)
    candidates = out.filter(over)["doc"]
    if len(candidates):
        words = (w.filter(pl.col("doc").is_in(candidates.implode())).group_by("doc", maintain_order=True)
                 .agg("h", "len"))
        exact = {f"dup_{n}": [greedy_repeated_chars(h, ln, n) for h, ln in zip(words["h"].to_list(), words["len"].to_list())]
                 for n in dup_ns}
        fix = pl.DataFrame({"doc": words["doc"].cast(pl.UInt32), **exact}).cast({f"dup_{n}": out.schema[f"dup_{n}"] for n in dup_ns})
        out = out.update(fix, on="doc")
    return out


class GopherRepetitionFilter(tc.WordRuleStage):
    """The Gopher repetition rules (datatrove's GopherRepetitionFilter), column-wise."""

    name = "gopher_repetition"

    # datatrove's names and defaults; a null threshold (or an empty n-gram list) turns a rule off
    @dataclass(frozen=True)
    class Params:
        dup_line_frac: float | None = param(0.3, "larger share of repeated lines: gopher_dup_line_frac")
        dup_para_frac: float | None = param(0.3, "larger share of repeated paragraphs: gopher_dup_para_frac")
        dup_line_char_frac: float | None = param(0.2, "larger share of characters in repeated lines")
        dup_para_char_frac: float | None = param(0.2, "larger share of characters in repeated paragraphs")
        top_n_grams: list[list[float]] | None = param(
            [[2, 0.2], [3, 0.18], [4, 0.16]], "[n, fraction] pairs: top n-gram characters x count over the text")
        dup_n_grams: list[list[float]] | None = param(
            [[5, 0.15], [6, 0.14], [7, 0.13], [8, 0.12], [9, 0.11], [10, 0.10]],
            "[n, fraction] pairs: characters inside repeated n-grams over the text")

    def process(self, table: pa.Table, ctx=None) -> StageOutput:
        cfg = self.cfg
        texts = tc.text_series(table)
        top = [(int(n), f) for n, f in cfg.top_n_grams or []]
        dup = [(int(n), f) for n, f in cfg.dup_n_grams or []]
        paras = duplicate_parts(pl.col("t").str.strip_chars().str.extract_all(r"[^\n]+(?:\n[^\n]+)*"), texts, "para")
        lines = duplicate_parts(pl.col("t").str.extract_all(r"[^\n]+"), texts, "line")
        s = pl.concat([paras, lines.drop("doc"), ngram_stats(texts, [n for n, _ in top], [n for n, _ in dup], [f for _, f in dup]).drop("doc"),
                       pl.DataFrame({"t": texts}).select(
                           chars=pl.col("t").str.len_chars(),
                           lead=pl.col("t").str.starts_with("\n").cast(pl.Int64),
                           trail=pl.col("t").str.ends_with("\n").cast(pl.Int64))], how="horizontal")
        # re.split("\n+") also yields "" before a leading and after a trailing newline
        n_lines = pl.col("line_n") + pl.col("lead") + pl.col("trail")
        line_dup = pl.col("line_dup") + pl.col("lead") * pl.col("trail")
        chars = pl.col("chars")

        def on(key, make):  # a None threshold switches the rule off
            value = getattr(cfg, key)
            return make(value) if value is not None else pl.lit(False)

        checks = [
            ("gopher_rep_empty", chars == 0),
            ("gopher_dup_para_frac", on("dup_para_frac", lambda v: pl.col("para_dup") / pl.col("para_n").clip(1) > v)),
            ("gopher_dup_para_char_frac", on("dup_para_char_frac", lambda v: pl.col("para_dup_chars") / chars > v)),
            ("gopher_dup_line_frac", on("dup_line_frac", lambda v: line_dup / n_lines > v)),
            ("gopher_dup_line_char_frac", on("dup_line_char_frac", lambda v: pl.col("line_dup_chars") / chars > v)),
        ] + [(f"gopher_top_{n}_gram", pl.col(f"top_{n}") / chars > f) for n, f in top] \
          + [(f"gopher_dup_{n}_gram", pl.col(f"dup_{n}") / chars > f) for n, f in dup]
        out = s.select(reason=tc.first_reason(checks),
                       detail=pl.format("dup_lines={}/{} dup_paras={}/{}", line_dup, n_lines,
                                        pl.col("para_dup"), pl.col("para_n")))
        return split_by_reason(table, out["reason"].to_arrow(), self.versioned_name, detail=out["detail"].to_arrow())
