"""`gristmill ocr PDF_FILES_OR_PDF_QUEUE... --out DIR`: input discovery and options.

Inputs may be PDF files, folders of PDFs, PDF queue shards (`part-*.parquet` with a
`pdf_bytes` column) or an ingest output folder (its `pdfs/` queue is used).
"""

from __future__ import annotations

import glob
import os

from gristmill.ocr.stage import OcrGpuStage, OcrStage
from gristmill.ocr.vlm_stage import OcrVlmStage
from gristmill.pipeline.commands import (CliError, Command, add_inputs_and_out, add_param_options, param_values,
                                         run_stage)
from gristmill.pipeline.layout import DROPPED_DIR, PDF_QUEUE_DIR, is_part_name, list_parts

# options every engine takes (from ocr@1's declaration) and those of the VLM engine
STAGE_OPTIONS = ["text_mode", "source", "dpi", "page_timeout_s", "doc_timeout_s", "mem_limit_mb"]
VLM_OPTIONS = ["vlm_url", "vlm_model"]
ENGINES = {"cpu": OcrStage, "gpu": OcrGpuStage, "vlm": OcrVlmStage, "none": OcrStage}


def add_arguments(p) -> None:
    add_inputs_and_out(p, metavar="PDF_FILES_OR_PDF_QUEUE")
    p.add_argument("--engine", choices=list(ENGINES), default="cpu",
                   help="OCR for pages that need it: bundled engine on CPU, on GPU (CPU fallback), "
                        "a VLM server (--vlm-url), or none (text layers only)")
    add_param_options(p, OcrStage, names=STAGE_OPTIONS)
    add_param_options(p, OcrVlmStage, names=VLM_OPTIONS)


def resolve_inputs(paths: list[str]) -> list[str]:
    """Expand folders: an ingest output folder -> its pdfs/ queue; other folders -> the
    PDFs and queue shards inside them. Files and remote URLs pass through as given."""
    out: list[str] = []
    dropped = f"{os.sep}{DROPPED_DIR}{os.sep}"
    for p in paths:
        if "://" in p or not os.path.isdir(p):
            out.append(p)
            continue
        queue = os.path.join(p, PDF_QUEUE_DIR)
        if os.path.isdir(queue):
            out.extend(list_parts(queue))
            continue
        found = [f for f in sorted(glob.glob(os.path.join(p, "**", "*"), recursive=True))
                 if f.lower().endswith(".pdf") or (is_part_name(os.path.basename(f)) and dropped not in f)]
        out.extend(found)
    return out


def stage_and_params(args, inputs: list[str]) -> tuple[type, dict]:
    """The stage class for --engine and its params from the options."""
    cls = ENGINES[args.engine]
    params = param_values(args, OcrStage, names=STAGE_OPTIONS)
    # the runner hands the stage absolute paths; origin_file keeps the path the user gave
    given = {os.path.abspath(p): p for p in inputs if "://" not in p and os.path.abspath(p) != p}
    if given:
        params["origin_names"] = given
    if args.engine == "none":
        params["ocr"] = "none"
    if args.engine == "vlm":
        vlm = param_values(args, OcrVlmStage, names=VLM_OPTIONS)
        if not vlm.get("vlm_url"):
            raise CliError("--engine vlm needs --vlm-url")
        params.update(vlm)
    return cls, params


def run(args) -> int:
    inputs = resolve_inputs(args.inputs)
    if not inputs:
        raise CliError("no PDF files or PDF queue shards found in the inputs")
    cls, params = stage_and_params(args, inputs)
    return run_stage(cls, params, args, inputs=inputs)


COMMANDS = [
    Command("ocr", "PDF files or ingest's PDF queue to documents (one per PDF)", add_arguments, run),
]
