"""Common Crawl crawls by name: expand a crawl's `warc.paths.gz` against a base URL.

    CC-MAIN-2024-22 -> BASE/crawl-data/CC-MAIN-2024-22/warc.paths.gz
    each line (crawl-data/CC-MAIN-2024-22/segments/<segment>/warc/<file>.warc.gz) -> BASE/<line>

`segments` keeps only the files of the named segments (the long number in the path, e.g.
1715971057216.39) or, given as integers, the first N files; `kind` picks warc, wet or
robotstxt paths lists. BASE is https://data.commoncrawl.org by default, s3://commoncrawl
or a mirror (a loopback server in the tests) otherwise.
"""

from __future__ import annotations

import fsspec

from gristmill.pipeline.transient import reach

DEFAULT_BASE = "https://data.commoncrawl.org"
KINDS = {"warc": "warc.paths.gz", "wet": "wet.paths.gz", "wat": "wat.paths.gz", "robotstxt": "robotstxt.paths.gz"}


def paths_url(crawl: str, base: str = DEFAULT_BASE, kind: str = "warc") -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    return f"{base.rstrip('/')}/crawl-data/{crawl}/{KINDS[kind]}"


def read_paths(url: str) -> list[str]:
    """The lines of a paths list. data.commoncrawl.org answers 503 under load: such errors
    are tried again (pipeline/transient.py), and if they last, they are one error line."""
    def read():
        with fsspec.open(url, "rt", compression="gzip" if url.endswith(".gz") else None) as f:
            return [line.strip() for line in f if line.strip()]

    return reach(read, f"read the paths list {url}")


def expand_paths_list(url: str, base: str = DEFAULT_BASE, limit: int | None = None) -> list[str]:
    """The files a paths list names: each line joined to `base`, unless it is a URL or an
    absolute path already."""
    lines = read_paths(url)[:limit] if limit is not None else read_paths(url)
    return [line if "://" in line or line.startswith("/") else f"{base.rstrip('/')}/{line.lstrip('/')}"
            for line in lines]


def expand_crawl(crawl: str, base: str = DEFAULT_BASE, segments: list[str] | None = None,
                 kind: str = "warc", limit: int | None = None) -> list[str]:
    """Full URLs of a crawl's files, optionally only some segments and the first `limit`."""
    lines = read_paths(paths_url(crawl, base, kind))
    if segments:
        wanted = {s.strip() for s in segments if s.strip()}
        lines = [p for p in lines if any(f"/segments/{s}/" in p or p.endswith(s) for s in wanted)]
    if limit is not None:
        lines = lines[:limit]
    return [f"{base.rstrip('/')}/{p.lstrip('/')}" for p in lines]


def expand_input(spec: dict) -> list[str]:
    """A workflow input given as a mapping, `{crawl: CC-MAIN-2024-22, segments: [...], kind: warc,
    limit: 10, base_url: ...}` or `{paths: warc.paths.gz, limit: 10, base_url: ...}`, as the URLs
    of the files it names."""
    if "paths" in spec:
        return expand_paths_list(str(spec["paths"]), spec.get("base_url", DEFAULT_BASE), spec.get("limit"))
    if "crawl" not in spec:
        raise ValueError("an input mapping names a crawl ({crawl: CC-MAIN-2024-22, ...}) or a paths list "
                         f"({{paths: warc.paths.gz, ...}}), not {spec!r}")
    return expand_crawl(str(spec["crawl"]), spec.get("base_url", DEFAULT_BASE), spec.get("segments"),
                        spec.get("kind", "warc"), spec.get("limit"))
