"""Transient read errors: a dropped connection, a timeout, HTTP 429/5xx from `https://` or
`s3://`. A file that failed that way is not broken, so a shard that met one is read again
(`READ_TRIES` times in all, with a growing pause) and, if it still fails, its marker says
`retry`: the next run of the same command reads it again instead of skipping it. A file that
is missing (404, FileNotFoundError) or corrupt is not transient and is counted once.

The exception types are matched by name along the cause chain, so neither aiohttp nor
botocore is imported here (they are optional, and only their errors' names matter)."""

from __future__ import annotations

import errno
import os
import time

from gristmill.pipeline.errors import GristmillError

# Stage counter a reader sets when it met a transient error inside a file (an error row in
# the drop log, the rest of the file unread): the shard task then reads the file again.
TRANSIENT_COUNTER = "transient_read_errors"

# Environment overrides, for operators (and for tests, which pause 0 s)
READ_TRIES = int(os.environ.get("GRISTMILL_READ_TRIES", "3"))
RETRY_PAUSE_S = float(os.environ.get("GRISTMILL_RETRY_PAUSE_S", "2.0"))  # doubled after each try

_TRANSIENT_ERRNOS = {errno.ECONNRESET, errno.ECONNREFUSED, errno.ECONNABORTED, errno.ETIMEDOUT, errno.EPIPE,
                     errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.EAGAIN}
_TRANSIENT_NAMES = {
    # aiohttp (fsspec's HTTP): the server went away mid-response, or never answered
    "ServerDisconnectedError", "ServerTimeoutError", "ClientPayloadError", "ClientConnectionError",
    "ClientConnectorError", "ClientOSError", "ContentLengthError", "TransferEncodingError",
    # botocore / s3fs
    "EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError",
    "ResponseStreamingError", "IncompleteReadError",
    # http.client, urllib3, requests
    "IncompleteRead", "RemoteDisconnected", "ProtocolError", "ChunkedEncodingError",
}
_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


_PERMANENT = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


def _one_is_transient(e: BaseException) -> bool:
    if isinstance(e, (ConnectionError, TimeoutError)):
        return True
    if any(t.__name__ in _TRANSIENT_NAMES for t in type(e).__mro__):
        return True
    status = getattr(e, "status", None)  # aiohttp.ClientResponseError
    if isinstance(status, int) and status in _TRANSIENT_STATUS:
        return True
    code = getattr(e, "response", None)  # botocore ClientError: response["Error"]["Code"]
    if isinstance(code, dict):
        meta = code.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if meta in _TRANSIENT_STATUS or code.get("Error", {}).get("Code") in ("SlowDown", "RequestTimeout",
                                                                                "InternalError", "ServiceUnavailable"):
            return True
    return isinstance(e, OSError) and e.errno in _TRANSIENT_ERRNOS


def is_transient(e: BaseException) -> bool:
    """True if `e`, or an exception it was raised from, is a network failure that a later
    try may not meet."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, _PERMANENT):
            # final, unless raised *from* another error: fsspec's HTTP turns any failed
            # HEAD/GET (a 503 too) into FileNotFoundError from the response's error
            if e.__cause__ is None:
                return False
            e = e.__cause__
            continue
        if _one_is_transient(e):
            return True
        e = e.__cause__ or e.__context__
    return False


def retrying(fn, *args, **kwargs):
    """`fn(*args, **kwargs)`, tried again after a transient error (`READ_TRIES` in all, the
    same growing pause): for the requests made while a run is planned (listing a folder of
    `s3://` inputs), which no shard task is there to retry."""
    for attempt in range(1, max(1, READ_TRIES) + 1):
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            if attempt >= max(1, READ_TRIES) or not is_transient(e):
                raise
            time.sleep(RETRY_PAUSE_S * 2 ** (attempt - 1))


class InputsUnreachable(GristmillError):
    """Planning could not list or read the inputs: the store kept failing (503s, resets)."""


def reach(fn, what: str):
    """`retrying(fn)` for a request made while a run is planned; a transient error that
    outlasts the tries becomes one error line naming `what` (a permanent one passes as is)."""
    try:
        return retrying(fn)
    except Exception as e:
        if not is_transient(e):
            raise
        raise InputsUnreachable(f"could not {what} (transient errors on every try): "
                                f"{type(e).__name__}: {e}"[:500] + "; re-run when it answers") from e
