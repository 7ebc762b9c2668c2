"""Parent side of the isolated PDF worker: per-page and per-document time limits, a
memory limit, restart after a crash or hang, and resume at the next page.

A Dask worker process is daemonic, so multiprocessing children are not allowed there;
a plain subprocess (python -m gristmill.ocr.worker) is, and it also survives a segfault
of MuPDF in the child. Models load once per child and the child is reused across
documents until it dies or is killed.
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import subprocess
import sys
import time
from dataclasses import dataclass, field

from gristmill.ocr.worker import HEADER

try:
    _CLK_TCK = os.sysconf("SC_CLK_TCK")
except (ValueError, OSError, AttributeError):  # pragma: no cover - not Linux
    _CLK_TCK = 100


@dataclass
class DocResult:
    info: dict | None = None                     # the `open` message
    pages: dict[int, dict] = field(default_factory=dict)
    error: tuple[str, str] | None = None         # (reason, detail) if the document failed
    restarts: int = 0
    seconds: float = 0.0


class _Timeout(Exception):
    pass


class _Died(Exception):
    pass


class PdfWorker:
    _shared: dict[int, "PdfWorker"] = {}

    @classmethod
    def shared(cls, mem_limit_mb: int = 3072) -> "PdfWorker":
        """One worker process per (Dask worker) process and memory limit, shared by all
        OCR stages there; killed when this process exits."""
        w = cls._shared.get(mem_limit_mb)
        if w is None:
            w = cls._shared[mem_limit_mb] = cls(mem_limit_mb)
            if len(cls._shared) == 1:
                atexit.register(lambda: [x.kill() for x in cls._shared.values()])
        return w

    def __init__(self, mem_limit_mb: int = 3072, startup_timeout_s: float = 120.0, wall_factor: float = 5.0):
        self.wall_factor = wall_factor
        self.mem_limit = int(mem_limit_mb) * 1024 * 1024
        self.startup_timeout = startup_timeout_s
        self.proc: subprocess.Popen | None = None
        self.started = 0

    # -- process management -------------------------------------------------------------
    def _start(self) -> None:
        env = dict(os.environ)
        env.setdefault("OMP_NUM_THREADS", "1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gristmill.ocr.worker", str(self.mem_limit)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self.started += 1
        msg = self._recv(time.monotonic() + self.startup_timeout)
        if msg.get("kind") != "ready":
            raise RuntimeError(f"PDF worker did not start: {msg}")

    def kill(self) -> None:
        if self.proc is not None:
            try:
                self.proc.kill()
                self.proc.wait(timeout=10)
            except Exception:  # noqa: BLE001 - already gone
                pass
            for f in (self.proc.stdin, self.proc.stdout):
                try:
                    f.close()
                except Exception:  # noqa: BLE001
                    pass
            self.proc = None

    close = kill

    def __del__(self):
        self.kill()

    def __getstate__(self):  # a live process does not travel
        return {"mem_limit": self.mem_limit, "startup_timeout": self.startup_timeout, "proc": None, "started": 0,
                "wall_factor": self.wall_factor}

    # -- protocol -----------------------------------------------------------------------
    def cpu_seconds(self) -> float | None:
        """CPU time the worker has used (Linux /proc), None where unknown."""
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / _CLK_TCK
        except (OSError, ValueError, IndexError, AttributeError):
            return None

    def _read_exact(self, n: int, deadline: float, cpu_limit: tuple[float, float] | None = None) -> bytes:
        """Read n bytes before `deadline` (wall clock) and, if `cpu_limit` = (cpu at start,
        seconds) is given, before the worker has spent that much CPU time."""
        fd = self.proc.stdout.fileno()
        buf = bytearray()
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Timeout()
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                if cpu_limit is not None:
                    used = self.cpu_seconds()
                    if used is not None and used - cpu_limit[0] > cpu_limit[1]:
                        raise _Timeout()
                continue
            chunk = os.read(fd, min(n - len(buf), 1 << 20))
            if not chunk:
                raise _Died()
            buf += chunk
        return bytes(buf)

    def _recv(self, deadline: float, cpu_limit: tuple[float, float] | None = None) -> dict:
        (n,) = HEADER.unpack(self._read_exact(HEADER.size, deadline, cpu_limit))
        return pickle.loads(self._read_exact(n, deadline, cpu_limit))

    def _send(self, obj) -> None:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.proc.stdin.write(HEADER.pack(len(data)) + data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise _Died() from e

    def _death_detail(self) -> str:
        code = self.proc.poll() if self.proc else None
        if code is not None and code < 0:
            return f"worker killed by signal {-code}"
        return f"worker exited with code {code}"

    # -- one document -------------------------------------------------------------------
    def run(self, pdf, opts: dict, page_timeout_s: float = 120.0, doc_timeout_s: float = 1800.0) -> DocResult:
        """Process one PDF (a path or bytes). Never raises for a bad PDF: the reason is in
        `DocResult.error`, failed pages are marked `route == "failed"`."""
        if isinstance(pdf, str):
            # the shared child may have been started in another working directory
            pdf = os.path.abspath(pdf)
        t0 = time.monotonic()
        doc_deadline = t0 + doc_timeout_s
        res = DocResult()
        start_page = 0
        retried_stale = False
        while True:
            fresh = False
            try:
                if self.proc is None or self.proc.poll() is not None:
                    self.kill()
                    self._start()
                    fresh = True
                self._send({"pdf": pdf, "opts": opts, "start_page": start_page})
                while True:
                    # A page may use page_timeout_s of CPU time; on a machine shared with other
                    # work it gets `wall_factor` times that in wall-clock time.
                    cpu0 = self.cpu_seconds()
                    cpu_limit = None if cpu0 is None else (cpu0, page_timeout_s)
                    wall = page_timeout_s * (self.wall_factor if cpu_limit else 1.0)
                    msg = self._recv(min(time.monotonic() + wall, doc_deadline), cpu_limit)
                    kind = msg.get("kind")
                    if kind == "open":
                        res.info = msg
                    elif kind == "page":
                        res.pages[msg["index"]] = msg
                        start_page = msg["index"] + 1
                    elif kind == "error":
                        res.error = (msg["reason"], msg.get("detail", ""))
                        break
                    elif kind == "done":
                        break
                break
            except (_Timeout, _Died) as e:
                timed_out = isinstance(e, _Timeout)
                detail = "no reply in time" if timed_out else self._death_detail()
                self.kill()
                res.restarts += 1
                if time.monotonic() >= doc_deadline:
                    res.error = ("doc_timeout", f"over {doc_timeout_s:.0f} s")
                    break
                if res.info is None and not fresh and not timed_out and not retried_stale:
                    retried_stale = True  # the reused worker had died since the last document
                    continue
                if res.info is None:  # died or hung while opening: nothing to resume
                    res.error = ("parse_timeout" if timed_out else "parser_crash", detail)
                    break
                res.pages[start_page] = {"kind": "page", "index": start_page, "route": "failed",
                                         "reason": "page_timeout" if timed_out else "page_crash",
                                         "engine": "none", "lines": [], "detail": detail}
                start_page += 1
                if start_page >= res.info["pages"]:
                    break
        res.seconds = time.monotonic() - t0
        return res
