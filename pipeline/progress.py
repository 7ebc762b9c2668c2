"""Progress bars while a run goes, and the per-step summary table when it ends."""

from __future__ import annotations

import os
import sys
import time

from tqdm import tqdm


class Progress:
    """One bar per step: shards done / total and documents per second."""

    def __init__(self, steps: list[str], n_shards: int, enabled: bool = True):
        self.enabled = enabled
        self.t0 = time.time()
        self.docs = {s: 0 for s in steps}
        self.bars = {}
        if enabled:
            width = max(len(s) for s in steps)
            for pos, s in enumerate(steps):
                self.bars[s] = tqdm(total=n_shards, desc=s.ljust(width), unit="shard", position=pos,
                                    file=sys.stderr, leave=True, dynamic_ncols=True, mininterval=0.5,
                                    bar_format="{desc} {bar:24} {n_fmt}/{total_fmt} shards{postfix} [{elapsed}]")

    def update(self, step: str, stats: dict, skipped: bool = False) -> None:
        if not self.enabled:
            return
        bar = self.bars[step]
        if not skipped and not stats.get("skipped"):
            self.docs[step] += stats.get("docs_in", 0)
        elapsed = max(time.time() - self.t0, 1e-6)
        bar.set_postfix_str(f"{self.docs[step] / elapsed:,.0f} docs/s", refresh=False)
        bar.update(1)

    def fail(self, step: str) -> None:
        if self.enabled:
            self.bars[step].set_postfix_str("FAILED shard", refresh=True)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _reasons(d: dict, limit: int = 3) -> str:
    items = sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{k} {v:,}" for k, v in items[:limit])
    if len(items) > limit:
        text += f", +{len(items) - limit} more"
    return text or "-"


def summary_table(results) -> str:
    header = ("step", "stage", "in", "out", "dropped", "dropped by reason", "time")
    rows = [header]
    for r in results:
        s = r.stats
        if s.get("kind") == "sink":  # no documents out: it made something else
            made = ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
                             for k, v in (s.get("product") or {}).items() if k in ("total_tokens", "shards", "steps"))
            rows.append((r.name, r.stage, "", "", "", f"sink: {made or 'done'}",
                         f"{float(s.get('seconds', 0)):.1f}s" + ("" if s.get("complete") else " (not finished)")))
            continue
        skipped_note = "" if s.get("complete", True) else f" ({s['shards_done']}/{s['shards']} shards)"
        seconds = s["seconds"] + float((s.get("fit") or {}).get("seconds", 0))  # corpus stages: + fit
        rows.append((r.name, r.stage, f"{s['docs_in']:,}", f"{s['docs_out']:,}", f"{s['docs_dropped']:,}",
                     _reasons(s["dropped_by_reason"]), f"{seconds:.1f}s{skipped_note}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for j, row in enumerate(rows):
        lines.append("  ".join(c.rjust(w) if 2 <= i <= 4 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_summary(name: str, results, wall: float, failures: list[str], file=None) -> None:
    file = file or sys.stdout
    print(f"\nworkflow {name}: {len(results)} steps in {wall:.1f}s wall "
          "(time column: CPU-seconds summed over shards, plus corpus-wide fits)", file=file)
    print(summary_table(results), file=file)
    for r in results:  # one line a corpus-wide step wants a person to see (e.g. the loss curve)
        headline = (r.stats.get("fit") or r.stats.get("product") or {}).get("headline")
        if headline:
            print(f"{r.name}: {headline}", file=file)
    for r in results:  # shards a rerun found broken and redid, each with its reason
        if r.stats.get("redone_by_reason"):
            print(f"{r.name}: redid {sum(r.stats['redone_by_reason'].values())} shard(s): "
                  f"{_reasons(r.stats['redone_by_reason'])}", file=file)
    for r in results:  # network failures that outlasted the tries: not broken files
        if r.stats.get("shards_to_retry"):
            print(f"{r.name}: {r.stats['shards_to_retry']} file(s) met transient read errors on every try "
                  "(see the drop log); re-run the same command to read them again", file=file)
    unbalanced = [r.name for r in results if not r.stats.get("balanced", True)]
    if unbalanced:
        print(f"WARNING: in != out + dropped for {', '.join(unbalanced)}", file=file)
    if failures:
        print(f"\n{len(failures)} shard(s) FAILED (re-run to retry them):", file=file)
        for f in failures[:10]:
            print(f"  {f}", file=file)
    docs = [r for r in results if r.stats.get("kind") != "sink"]
    if docs:
        first, last = docs[0].stats, docs[-1].stats
        total_dropped = sum(r.stats["docs_dropped"] for r in docs)
        generated = sum(r.stats.get("generated", 0) for r in docs)  # rows a step added (rephrase@1)
        kept_pct = 100.0 * last["docs_out"] / first["docs_in"] if first["docs_in"] else 0.0
        made = f" and {generated:,} generated" if generated else ""
        print(f"\nkept {last['docs_out']:,} of {first['docs_in']:,} records read{made} ({kept_pct:.1f}%); "
              f"the other {total_dropped:,} are in the drop logs, each with its step and reason.", file=file)
        print(f"outputs: {docs[-1].out_dir} (kept documents); each step's folder holds "
              "part-*.parquet, dropped/ (drop log) and stats.json. Look inside with "
              f"`gristmill inspect {os.path.dirname(docs[-1].out_dir) or '.'}`.", file=file)
        for r in results:
            if r.stats.get("kind") == "sink":
                print(f"{r.name}: {r.stage} wrote its product to {r.out_dir}", file=file)
