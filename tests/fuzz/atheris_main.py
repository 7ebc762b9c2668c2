"""One fuzz target under atheris (libFuzzer coverage feedback), for `run_budget --engine atheris`.

    python -m tests.fuzz.atheris_main TARGET STATS.json -max_total_time=60

gristmill's own modules are instrumented for coverage; the custom mutator mixes libFuzzer's
byte mutations with the structural ones of mutate.py. An input's exception is recorded by
signature (the run goes on, as with the built-in engine); stats are rewritten every second,
because libFuzzer ends the process with exit() when its time is up.
"""

from __future__ import annotations

import json
import random
import sys
import time


def main() -> None:
    import atheris

    name, stats_path, *fuzzer_args = sys.argv[1:]
    with atheris.instrument_imports(include=["gristmill"]):
        from tests.fuzz.engine import run_inline, signature  # noqa: F401
        from tests.fuzz.mutate import mutate
        from tests.fuzz.targets import TARGETS
    target = TARGETS[name]
    target.setup()
    seeds = target.seeds()
    stats = {"target": name, "engine": "atheris", "executions": 0, "findings": 0, "signatures": {}}
    t0 = last = time.monotonic()

    def dump(force: bool = False) -> None:
        nonlocal last
        now = time.monotonic()
        if force or now - last > 1.0:
            last = now
            stats["seconds"] = round(now - t0, 1)
            stats["unique"] = len(stats["signatures"])
            with open(stats_path, "w") as f:
                json.dump(stats, f)

    def test_one_input(data: bytes) -> None:
        stats["executions"] += 1
        out = run_inline(target, data)
        if not out.ok:
            stats["findings"] += 1
            stats["signatures"][out.signature] = stats["signatures"].get(out.signature, 0) + 1
            dump(force=True)
        dump()

    def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if not data or rng.random() < 0.1:
            data = rng.choice(seeds)
        if rng.random() < 0.3:
            return atheris.Mutate(data, max_size)
        return mutate(rng, data, seeds, max_size)

    import os
    import tempfile

    corpus = tempfile.mkdtemp(prefix=f"gristmill-atheris-{name}-")
    for i, s in enumerate(seeds):
        with open(os.path.join(corpus, f"seed{i}"), "wb") as f:
            f.write(s)
    dump(force=True)
    atheris.Setup([sys.argv[0], *fuzzer_args, f"-max_len={target.max_size}", corpus], test_one_input,
                  custom_mutator=custom_mutator)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
