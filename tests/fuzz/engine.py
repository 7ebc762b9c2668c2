"""A seeded, budgeted mutation fuzzer with crash isolation.

Each input runs in a forked child (a copy of the warmed-up process, ~ms to start) with an
address-space limit and an alarm, so a segfault, a hang or a memory blow-up is a finding with
its own signature instead of the end of the run. Inputs that show a new behaviour key (drop
reasons, record kinds) join the pool that mutations start from: a cheap stand-in for
coverage feedback. The same seed and the same number of executions give the same inputs.
"""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import time
import traceback
from dataclasses import dataclass, field

from tests.fuzz.mutate import mutate
from tests.fuzz.targets import Target, Violation

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT_S = 20          # per input (the ingest limits keep a real one far below this)
CHILD_MEM_MB = 4096     # address space a child may add to the warmed-up parent's


@dataclass
class Outcome:
    ok: bool
    behaviour: str = ""
    signature: str = ""
    detail: str = ""


@dataclass
class Report:
    target: str
    seconds: float
    seed: int
    executions: int = 0
    findings: int = 0
    pool: int = 0
    crashes: dict = field(default_factory=dict)   # signature -> {"count", "detail", "input" (smallest)}

    def summary(self) -> dict:
        return {"target": self.target, "seconds": round(self.seconds, 1), "seed": self.seed,
                "executions": self.executions, "findings": self.findings, "unique": len(self.crashes),
                "pool": self.pool, "signatures": {s: c["count"] for s, c in self.crashes.items()}}


def signature(e: BaseException) -> str:
    """Exception type and the innermost frame that is gristmill's (else the innermost), no line
    numbers: the same bug found through two inputs has one signature."""
    if isinstance(e, Violation):
        return f"Violation: {str(e).split(':')[0]}"
    frames = traceback.extract_tb(e.__traceback__)
    ours = [f for f in frames if f.filename.startswith(REPO) and "/tests/" not in f.filename
            and "/.venv/" not in f.filename]
    f = (ours or frames or [None])[-1]
    where = f"{os.path.relpath(f.filename, REPO) if f.filename.startswith(REPO) else os.path.basename(f.filename)}:{f.name}" \
        if f else "?"
    return f"{type(e).__name__} @ {where}"


def run_inline(target: Target, data: bytes) -> Outcome:
    try:
        return Outcome(True, behaviour=target.run(data))
    except Exception as e:  # noqa: BLE001 - every exception is a finding
        return Outcome(False, signature=signature(e), detail=f"{type(e).__name__}: {e}"[:300])
    except BaseException as e:  # pyo3 panics and the like
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        return Outcome(False, signature=signature(e), detail=f"{type(e).__name__}: {e}"[:300])


def run_forked(target: Target, data: bytes, timeout_s: int = TIMEOUT_S) -> Outcome:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        code = 0
        try:
            import faulthandler

            faulthandler.disable()  # a crash is reported by the parent, not dumped by each child
            _, hard = resource.getrlimit(resource.RLIMIT_AS)
            with open("/proc/self/statm") as f:
                vsize = int(f.read().split()[0]) * resource.getpagesize()
            resource.setrlimit(resource.RLIMIT_AS, (vsize + (CHILD_MEM_MB << 20), hard))
            signal.alarm(timeout_s)
            out = run_inline(target, data)
            os.write(w, json.dumps(out.__dict__).encode())
        except BaseException:  # noqa: BLE001
            code = 3
        finally:
            os._exit(code)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 1 << 16)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if chunks:
        try:
            return Outcome(**json.loads(b"".join(chunks)))
        except ValueError:
            pass
    if os.WIFSIGNALED(status):
        sig = signal.Signals(os.WTERMSIG(status)).name
        kind = "timeout" if sig == "SIGALRM" else "crash"
        return Outcome(False, signature=f"{kind}: {sig}", detail=f"child killed by {sig}")
    return Outcome(False, signature=f"exit: {os.WEXITSTATUS(status)}", detail="child exited without a result")


def run_one(target: Target, data: bytes) -> Outcome:
    return run_forked(target, data) if target.fork else run_inline(target, data)


def fuzz(target: Target, seconds: float, seed: int = 0, max_execs: int | None = None,
         seeds: list[bytes] | None = None, min_execs: int = 0) -> Report:
    """Run the target's seeds, then mutations of its pool, for `seconds` (or `max_execs`), and
    for at least `min_execs` inputs (a test's budget on a slow machine)."""
    target.setup()
    rng = random.Random(f"{target.name}:{seed}")
    pool = list(seeds if seeds is not None else target.seeds())
    report = Report(target.name, seconds, seed)
    run_inline(target, pool[0])  # imports and caches happen here once, not in every child
    seen: set[str] = set()
    t0 = time.monotonic()
    queue = list(pool)  # the seeds themselves first: a real file must pass too

    def record(data: bytes, out: Outcome) -> None:
        report.executions += 1
        if out.ok:
            if out.behaviour not in seen:
                seen.add(out.behaviour)
                if data not in pool:
                    pool.append(data)
            return
        report.findings += 1
        c = report.crashes.setdefault(out.signature, {"count": 0, "detail": out.detail, "input": data})
        c["count"] += 1
        if len(data) < len(c["input"]):
            c["input"], c["detail"] = data, out.detail

    while (time.monotonic() - t0 < seconds or report.executions < min_execs) and \
            (max_execs is None or report.executions < max_execs):
        data = queue.pop(0) if queue else mutate(rng, rng.choice(pool), pool, target.max_size)
        record(data, run_one(target, data))
    report.seconds = time.monotonic() - t0
    report.pool = len(pool)
    return report


def minimise(target: Target, data: bytes, sig: str, seconds: float = 10.0) -> bytes:
    """Delta-debug `data` down (cut chunks, halving their size) while it still gives `sig`."""
    t0 = time.monotonic()
    chunk = max(1, len(data) // 2)
    while chunk >= 1 and time.monotonic() - t0 < seconds:
        i, shrunk = 0, False
        while i < len(data) and time.monotonic() - t0 < seconds:
            cand = data[:i] + data[i + chunk:]
            out = run_one(target, cand)
            if not out.ok and out.signature == sig:
                data, shrunk = cand, True
            else:
                i += chunk
        if not shrunk:
            chunk //= 2
    return data
