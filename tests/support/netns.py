"""Hosts made of Linux network namespaces on this machine, for a real multi-host Dask cluster.

`Hosts(["sched", "w1", ...])` makes one namespace per host plus a "switch" namespace that
holds a bridge; each host gets a veth pair whose one end (`eth0`, with the host's own
address) sits in the host and whose other end is a bridge port in the switch. Every link,
address and route lives inside namespaces made here: the root namespace gets no interface,
no address and no route, so nothing started on these hosts can reach anything but the
other hosts (and a host's own loopback). The filesystem is not namespaced: a folder is
shared by every host, which is what the cluster test uses as its shard store.

Names carry the creating process's pid and a random tag (`gmnet-<pid>-<tag>-<host>`), so
parallel runs do not clash; `close()` (also on failure, and at interpreter exit) kills
every process started here, then deletes the namespaces, which deletes their veths. A
process started here also dies with its creator (PR_SET_PDEATHSIG), and the namespaces of a
creator that was itself killed are deleted by the next `Hosts()`.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import re
import shutil
import signal
import subprocess
import time

# An address range used only inside the namespaces made here (never routed from the root).
SUBNET = "10.213.0"
PREFIX_LEN = 24
SWITCH = "switch"
BRIDGE = "br0"
TAG = "gmnet"
_OURS = re.compile(rf"^{TAG}-(\d+)-[0-9a-f]{{4}}-")
PR_SET_PDEATHSIG = 1


def unavailable() -> str | None:
    """Why namespaced hosts cannot be made here (None: they can): not root, no `ip`, or a
    kernel/container that refuses `ip netns add`."""
    if os.geteuid() != 0:
        return "needs root (ip netns add, veth pairs)"
    if shutil.which("ip") is None:
        return "iproute2's `ip` command is not installed"
    probe = f"{TAG}-{os.getpid()}-0000-probe"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if r.returncode != 0:
        return f"`ip netns add` is refused here: {r.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _die_with_parent() -> None:
    """In the child before exec (`ip netns exec` execs in place, so this holds for the command)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, 9)  # SIGKILL
    except (OSError, AttributeError):
        pass


def remove_stale() -> list[str]:
    """Delete namespaces made here by a process that no longer exists (one killed before its
    teardown ran); what is still inside them was started by it."""
    gone = []
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = _OURS.match(name)
        if not m or os.path.exists(f"/proc/{m.group(1)}"):
            continue
        _end_processes_in(name)
        if subprocess.run(["ip", "netns", "del", name], capture_output=True).returncode == 0:
            gone.append(name)
    return gone


def _end_processes_in(name: str) -> None:
    r = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
    for pid in r.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def _ip(*args: str) -> None:
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {r.stderr.strip()}")


class Hosts:
    """Namespaced hosts on one bridge; `addr[name]` is each host's address."""

    def __init__(self, names: list[str], first_octet: int = 1):
        remove_stale()
        self.tag = f"{TAG}-{os.getpid()}-{os.urandom(2).hex()}"
        self.names = list(names)
        self.addr = {n: f"{SUBNET}.{first_octet + i}" for i, n in enumerate(self.names)}
        self.procs: list[subprocess.Popen] = []
        self.made: list[str] = []
        atexit.register(self.close)
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def ns(self, host: str) -> str:
        return f"{self.tag}-{host}"

    def _add(self, host: str) -> str:
        name = self.ns(host)
        _ip("netns", "add", name)
        self.made.append(name)
        _ip("-n", name, "link", "set", "lo", "up")
        return name

    def _build(self) -> None:
        switch = self._add(SWITCH)
        _ip("-n", switch, "link", "add", BRIDGE, "type", "bridge")
        _ip("-n", switch, "link", "set", BRIDGE, "up")
        for i, host in enumerate(self.names):
            ns = self._add(host)
            port = f"p{i}"
            # both ends are created directly inside namespaces: never an interface in the root
            _ip("link", "add", "name", "eth0", "netns", ns, "type", "veth", "peer", "name", port, "netns", switch)
            _ip("-n", switch, "link", "set", port, "master", BRIDGE)
            _ip("-n", switch, "link", "set", port, "up")
            _ip("-n", ns, "addr", "add", f"{self.addr[host]}/{PREFIX_LEN}", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")

    def popen(self, host: str, argv: list[str], log: str | None = None, **kw) -> subprocess.Popen:
        """Start `argv` inside `host`'s namespace (`ip netns exec` execs it: the pid is its own),
        output to `log` (or discarded); killed at close()."""
        out = open(log, "ab") if log else subprocess.DEVNULL
        try:
            p = subprocess.Popen(["ip", "netns", "exec", self.ns(host), *argv], stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent,
                                 **kw)
        finally:
            if log:
                out.close()
        self.procs.append(p)
        return p

    def run(self, host: str, argv: list[str], timeout: float, **kw) -> subprocess.CompletedProcess:
        """Run `argv` inside `host`'s namespace to completion (output captured)."""
        return subprocess.run(["ip", "netns", "exec", self.ns(host), *argv], capture_output=True, text=True,
                              timeout=timeout, **kw)

    def close(self) -> None:
        """Kill what was started here (by pid), then delete the namespaces (and with them the veths)."""
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)  # its own session: the process and its children
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.procs = []
        for name in reversed(self.made):
            _end_processes_in(name)  # anything still inside a namespace made here was started from it
            for _ in range(20):
                if subprocess.run(["ip", "netns", "del", name], capture_output=True).returncode == 0:
                    break
                time.sleep(0.1)
        self.made = []

    def leftovers(self) -> list[str]:
        """Namespaces of this tag that still exist (for the test of the teardown)."""
        r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
        return [line.split()[0] for line in r.stdout.splitlines() if line.startswith(self.tag)]

    def __enter__(self) -> "Hosts":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
