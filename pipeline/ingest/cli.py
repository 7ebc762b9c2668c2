"""`gristmill ingest`: WARC / ARC / WET files (or a crawl by name) to documents.

    gristmill ingest WARC_OR_PATHS... --out DIR [--engine NAME] [--robots WARC...]
    gristmill ingest --crawl CC-MAIN-2024-22 [--segments SEG...] [--limit N] [--base-url URL] --out DIR

An input ending in `.paths` or `.paths.gz` is a Common Crawl paths list: each line is
joined to --base-url. Documents go to DIR/part-*.parquet, the PDF queue to DIR/pdfs/.
"""

from __future__ import annotations

import argparse

from gristmill.pipeline.ingest.crawl import DEFAULT_BASE, expand_crawl, read_paths
from gristmill.pipeline.ingest.extract import DEFAULT_ENGINE, ENGINES


def add_parser(sub, common) -> argparse.ArgumentParser:
    p = sub.add_parser("ingest", help="WARC/ARC/WET files or a Common Crawl crawl to documents (PDFs to DIR/pdfs/)")
    p.add_argument("inputs", nargs="*", metavar="WARC_OR_PATHS",
                   help="WARC/ARC/WET files, folders, globs or URLs, or *.paths.gz lists")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--crawl", default=None, help="Common Crawl crawl name, e.g. CC-MAIN-2024-22")
    p.add_argument("--segments", nargs="*", default=None, help="only these segments of --crawl")
    p.add_argument("--kind", default="warc", choices=["warc", "wet"], help="which files of --crawl")
    p.add_argument("--limit", type=int, default=None, help="only the first N files of --crawl / paths lists")
    p.add_argument("--base-url", default=DEFAULT_BASE,
                   help=f"where crawl-data/ lives: {DEFAULT_BASE} (default), s3://commoncrawl or a mirror")
    p.add_argument("--engine", default=DEFAULT_ENGINE, choices=sorted(ENGINES), help="main-text extractor")
    p.add_argument("--robots", nargs="*", default=None, help="robots.txt WARCs to take opt-out rules from")
    p.add_argument("--source", default="web", help="`source` (mixing domain) of the documents")
    common(p)
    return p


def expand(args) -> list[str]:
    files: list[str] = []
    for item in args.inputs:
        if item.endswith((".paths", ".paths.gz")):
            lines = read_paths(item)[: args.limit] if args.limit else read_paths(item)
            files += [f"{args.base_url.rstrip('/')}/{p.lstrip('/')}" for p in lines]
        else:
            files.append(item)
    if args.crawl:
        files += expand_crawl(args.crawl, args.base_url, args.segments, args.kind, args.limit)
    if not files:
        raise FileNotFoundError("nothing to ingest: give WARC files, a paths list or --crawl")
    return files


def run(args, run_single) -> int:
    args.inputs = expand(args)
    params = {"engine": args.engine, "source": args.source}
    if args.robots:
        params["robots"] = list(args.robots)
    return run_single("ingest", params, args)
