"""`gristmill ingest`: WARC / ARC / WET files (or a crawl by name) to documents, and
`gristmill read`: JSONL / Parquet / text files to documents.

    gristmill ingest WARC_OR_PATHS... --out DIR [--engine NAME] [--robots WARC...]
    gristmill ingest --crawl CC-MAIN-2024-22 [--segments SEG...] [--limit N] [--base-url URL] --out DIR
    gristmill read IN... --out DIR [--source NAME]

An input ending in `.paths` or `.paths.gz` is a Common Crawl paths list: each line is
joined to --base-url. Documents go to DIR/part-*.parquet, the PDF queue to DIR/pdfs/.
"""

from __future__ import annotations

from gristmill.pipeline.commands import (CliError, Command, add_inputs_and_out, add_param_options, param_values,
                                         run_stage)
from gristmill.pipeline.ingest.crawl import DEFAULT_BASE, expand_crawl, expand_paths_list
from gristmill.pipeline.ingest.readers import ReadDocuments
from gristmill.pipeline.ingest.stage import Ingest
from gristmill.pipeline.layout import PDF_QUEUE_DIR
from gristmill.pipeline.shards import PATHS_LISTS

INGEST_OPTIONS = ["engine", "robots", "source", "max_record_mb", "max_decoded_mb", "max_html_mb"]


def ingest_arguments(p) -> None:
    p.add_argument("inputs", nargs="*", metavar="WARC_OR_PATHS",
                   help="WARC/ARC/WET files, folders, globs or URLs, or *.paths.gz lists")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--crawl", default=None, help="Common Crawl crawl name, e.g. CC-MAIN-2024-22")
    p.add_argument("--segments", nargs="*", default=None, help="only these segments of --crawl")
    p.add_argument("--kind", default="warc", choices=["warc", "wet"], help="which files of --crawl")
    p.add_argument("--limit", type=int, default=None, help="only the first N files of --crawl / paths lists")
    p.add_argument("--base-url", default=DEFAULT_BASE,
                   help=f"where crawl-data/ lives: {DEFAULT_BASE} (default), s3://commoncrawl or a mirror")
    add_param_options(p, Ingest, names=INGEST_OPTIONS)


def expand(args) -> list[str]:
    files: list[str] = []
    for item in args.inputs:
        if item.endswith(PATHS_LISTS):
            files += expand_paths_list(item, args.base_url, args.limit)
        else:
            files.append(item)
    if args.crawl:
        files += expand_crawl(args.crawl, args.base_url, args.segments, args.kind, args.limit)
    if not files:
        raise CliError("nothing to ingest: give WARC files, a paths list or --crawl")
    return files


def run_ingest(args) -> int:
    inputs = expand(args)
    return run_stage(Ingest, param_values(args, Ingest, names=INGEST_OPTIONS, paths=("robots",)), args,
                     inputs=inputs)


def read_arguments(p) -> None:
    add_inputs_and_out(p)
    add_param_options(p, ReadDocuments)  # --text-key content: JSONL whose text is not under "text"


def run_read(args) -> int:
    return run_stage(ReadDocuments, param_values(args, ReadDocuments), args)


COMMANDS = [
    Command("read", "JSONL / Parquet / text files to documents", read_arguments, run_read),
    Command("ingest", f"WARC/ARC/WET files or a Common Crawl crawl to documents (PDFs to DIR/{PDF_QUEUE_DIR}/)",
            ingest_arguments, run_ingest),
]
