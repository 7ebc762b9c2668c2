"""Run every fuzz target for a fixed budget and print, per target, executions, findings and
unique crash signatures.

    python -m tests.fuzz.run_budget --seconds 60 --seed 0            # all targets, 60 s each
    python -m tests.fuzz.run_budget --targets warc,pdf --seconds 300
    python -m tests.fuzz.run_budget --seconds 60 --save-corpus tests/fuzz/fuzz_corpus   # keep crashers
    python -m tests.fuzz.run_budget --engine atheris --seconds 60    # coverage-guided (pip install atheris)

The built-in engine (tests/fuzz/engine.py) mutates real files structurally and runs each
input in a forked child; `--engine atheris` runs each target under libFuzzer's coverage
feedback in its own process, with the same structural mutator as its custom mutator.
`--save-corpus DIR` writes the smallest input of each signature, minimised, as
DIR/<target>/<hash>.bin: the regression tests (tests/fuzz/test_fuzz_corpus.py) run every file
there through its target.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time

from tests.fuzz.engine import REPO, Report, fuzz, minimise
from tests.fuzz.targets import TARGETS


def save_corpus(report: Report, folder: str, minimise_s: float) -> list[str]:
    target = TARGETS[report.target]
    os.makedirs(os.path.join(folder, report.target), exist_ok=True)
    paths = []
    for sig, crash in report.crashes.items():
        data = minimise(target, crash["input"], sig, minimise_s) if minimise_s > 0 else crash["input"]
        path = os.path.join(folder, report.target, hashlib.sha1(data).hexdigest()[:12] + ".bin")
        with open(path, "wb") as f:
            f.write(data)
        with open(path[:-4] + ".json", "w") as f:
            json.dump({"signature": sig, "detail": crash["detail"], "bytes": len(data)}, f, indent=1)
        paths.append(path)
    return paths


def run_atheris(name: str, seconds: float, seed: int) -> dict:
    """One target under atheris in a child process; its stats come back as one JSON file."""
    out = os.path.join("/tmp", f"gristmill-atheris-{os.getpid()}-{name}.json")
    cmd = [sys.executable, "-m", "tests.fuzz.atheris_main", name, out, f"-max_total_time={int(seconds)}",
           f"-seed={seed + 1}", "-rss_limit_mb=6144", "-timeout=20"]
    proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          timeout=seconds + 300, check=False)
    with open(out) as f:
        stats = json.load(f)
    os.unlink(out)
    if proc.returncode != 0:  # libFuzzer stops at a crash (a signal in the parser): one more finding
        sig = f"crash: libFuzzer exit {proc.returncode}"
        stats["findings"] += 1
        stats["signatures"][sig] = stats["signatures"].get(sig, 0) + 1
        stats["unique"] = len(stats["signatures"])
    return stats


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="budget per target")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--targets", default=",".join(TARGETS), help=f"comma-separated, of {','.join(TARGETS)}")
    ap.add_argument("--engine", choices=("mutate", "atheris"), default="mutate")
    ap.add_argument("--save-corpus", metavar="DIR", help="write each signature's smallest input here")
    ap.add_argument("--minimise-seconds", type=float, default=10.0)
    ap.add_argument("--json", metavar="FILE", help="also write the per-target summaries here")
    args = ap.parse_args(argv)
    names = [n for n in args.targets.split(",") if n]
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        ap.error(f"unknown target(s) {unknown}; targets: {', '.join(TARGETS)}")
    summaries = []
    print(f"engine={args.engine} seconds={args.seconds:g} seed={args.seed} load={os.getloadavg()[0]:.1f}")
    print(f"{'target':8} {'executions':>10} {'exec/s':>7} {'findings':>8} {'unique':>6}  signatures")
    for name in names:
        t0 = time.monotonic()
        if args.engine == "atheris":
            s = run_atheris(name, args.seconds, args.seed)
        else:
            report = fuzz(TARGETS[name], args.seconds, args.seed)
            s = report.summary()
            if args.save_corpus and report.crashes:
                s["saved"] = save_corpus(report, args.save_corpus, args.minimise_seconds)
        s["wall_s"] = round(time.monotonic() - t0, 1)
        summaries.append(s)
        rate = s["executions"] / max(s["seconds"], 1e-9)
        sigs = "; ".join(f"{k} x{v}" for k, v in s["signatures"].items()) or "-"
        print(f"{name:8} {s['executions']:>10} {rate:>7.1f} {s['findings']:>8} {s['unique']:>6}  {sigs}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summaries, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
