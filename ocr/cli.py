"""`gristmill ocr PDF_FILES_OR_PDF_QUEUE... --out DIR`: input discovery and options.

Inputs may be PDF files, folders of PDFs, PDF queue shards (`part-*.parquet` with a
`pdf_bytes` column) or an ingest output folder (its `pdfs/` queue is used).
"""

from __future__ import annotations

import glob
import os

from gristmill.pipeline.shards import PDF_QUEUE_DIR


def add_arguments(p) -> None:
    p.add_argument("--engine", choices=["cpu", "gpu", "vlm", "none"], default="cpu",
                   help="OCR for pages that need it: bundled engine on CPU, on GPU (CPU fallback), "
                        "a VLM server (--vlm-url), or none (text layers only)")
    p.add_argument("--text-mode", choices=["plain", "markdown", "auto"], default="plain",
                   help="text-layer pages: pymupdf lines (fast), pymupdf4llm Markdown (tables; ~300x slower), "
                        "or auto: Markdown only on pages with ruled lines (tables)")
    p.add_argument("--source", default="pdf", help="`source` (mixing domain) of the documents")
    p.add_argument("--vlm-url", default=None, help="OpenAI-compatible server, e.g. http://localhost:8000/v1")
    p.add_argument("--vlm-model", default="olmocr", help="model name the server serves")
    p.add_argument("--dpi", type=int, default=150)
    p.add_argument("--page-timeout", type=float, default=120.0, help="CPU seconds per page before it is failed (5x that in wall time)")
    p.add_argument("--doc-timeout", type=float, default=1800.0, help="seconds per PDF before it is dropped")
    p.add_argument("--mem-limit-mb", type=int, default=3072, help="address-space limit of the PDF worker")


def resolve_inputs(paths: list[str]) -> list[str]:
    """Expand folders: an ingest output folder -> its pdfs/ queue; other folders -> the
    PDFs and queue shards inside them. Files and remote URLs pass through as given."""
    out: list[str] = []
    for p in paths:
        if "://" in p or not os.path.isdir(p):
            out.append(p)
            continue
        queue = os.path.join(p, PDF_QUEUE_DIR)
        if os.path.isdir(queue):
            out.extend(sorted(glob.glob(os.path.join(queue, "part-*.parquet"))))
            continue
        found = [f for f in sorted(glob.glob(os.path.join(p, "**", "*"), recursive=True))
                 if f.lower().endswith(".pdf") or (os.path.basename(f).startswith("part-")
                                                   and f.endswith(".parquet") and "/dropped/" not in f)]
        out.extend(found)
    return out


def stage_and_params(args) -> tuple[str, dict]:
    params = {"source": args.source, "text_mode": args.text_mode, "dpi": args.dpi,
              "page_timeout_s": args.page_timeout, "doc_timeout_s": args.doc_timeout,
              "mem_limit_mb": args.mem_limit_mb}
    # run_single hands the stage absolute paths; origin_file keeps the path the user gave.
    given = {os.path.abspath(p): p for p in args.inputs if "://" not in p and os.path.abspath(p) != p}
    if given:
        params["origin_names"] = given
    if args.engine == "none":
        params["ocr"] = "none"
    if args.engine == "vlm":
        if not args.vlm_url:
            from gristmill.pipeline.workflow import WorkflowError

            raise WorkflowError("--engine vlm needs --vlm-url")
        params.update(vlm_url=args.vlm_url, vlm_model=args.vlm_model)
        return "ocr_vlm", params
    return ("ocr_gpu" if args.engine == "gpu" else "ocr"), params
