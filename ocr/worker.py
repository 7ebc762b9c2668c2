"""The isolated PDF worker process: `python -m gristmill.ocr.worker MEM_BYTES`.

Reads length-prefixed pickled requests on stdin and writes replies on the original
stdout; C libraries that print are redirected to stderr so they cannot corrupt the
protocol. The address-space limit makes a decompression bomb fail here with a
MemoryError (or kill this process), never the Dask worker.
"""

from __future__ import annotations

import os
import pickle
import struct
import sys

HEADER = struct.Struct("<Q")


def read_msg(f):
    head = f.read(HEADER.size)
    if len(head) < HEADER.size:
        return None
    (n,) = HEADER.unpack(head)
    return pickle.loads(f.read(n))


def write_msg(f, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    f.write(HEADER.pack(len(data)) + data)
    f.flush()


def _limit_memory(mem_bytes: int) -> None:
    if mem_bytes <= 0:
        return
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
    except (ImportError, ValueError, OSError):  # not on this platform: time limits still apply
        pass


def main() -> int:
    _limit_memory(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    inp = sys.stdin.buffer
    from gristmill.ocr.docproc import Engines, process_document

    try:  # quiet MuPDF's own warnings on stderr; they are reported per page instead
        import pymupdf

        pymupdf.TOOLS.mupdf_display_errors(False)
        pymupdf.TOOLS.mupdf_display_warnings(False)
    except Exception:  # noqa: BLE001
        pass
    engines = Engines()
    write_msg(out, {"kind": "ready"})
    while True:
        msg = read_msg(inp)
        if msg is None:
            return 0
        try:
            for reply in process_document(msg, engines):
                write_msg(out, reply)
        except MemoryError:
            write_msg(out, {"kind": "error", "reason": "memory_limit", "detail": "MemoryError while opening"})
        except Exception as e:  # noqa: BLE001 - reported to the parent as a reason
            write_msg(out, {"kind": "error", "reason": "unreadable_pdf", "detail": f"{type(e).__name__}: {e}"[:300]})


if __name__ == "__main__":
    sys.exit(main())
