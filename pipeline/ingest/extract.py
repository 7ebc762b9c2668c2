"""HTML to main text, with interchangeable engines chosen by measurement.

`benchmarks/eval_extraction.py` scores each engine on the trafilatura evaluation set
(snippet precision/recall) and times it; the README's ingest section has the table and
the reason for the default. Every engine takes a Unicode HTML string and returns the
main text, or "" when it finds none.
"""

from __future__ import annotations

import contextvars
from typing import Callable

# resiliparse and trafilatura are imported on first use: this module (the ENGINES table) is
# read by the command line, which must start fast.

# held-out F1 0.925 by site vs 0.900 for trafilatura+resiliparse, and faster (README, Crawl ingest)
DEFAULT_ENGINE = "blocks"
# Pages longer than this go to resiliparse alone in the default engine: trafilatura's cost
# grows with the tree, and crawls cap records at 1-5 MiB anyway.
MAX_TRAFILATURA_CHARS = 3_000_000


def _resiliparse(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(html)
    # comments/post_meta off: measured +0.03 F1 (comment threads and bylines are boilerplate)
    return extract_plain_text(tree, main_content=True, preserve_formatting=True, alt_texts=False,
                              list_bullets=True, comments=False, post_meta=False)


def _resiliparse_all(html: str) -> str:
    """Every visible text node (no main-content heuristics): the recall ceiling."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    return extract_plain_text(HTMLTree.parse(html), main_content=False, preserve_formatting=True,
                              alt_texts=False)


def _trafilatura(html: str, **kw) -> str:
    import trafilatura

    return trafilatura.extract(html, include_comments=False, include_tables=True, **kw) or ""


def _trafilatura_default(html: str) -> str:
    return _trafilatura(html)


def _trafilatura_fast(html: str) -> str:
    """trafilatura without its readability/jusText fallbacks (`no_fallback=True`)."""
    return _trafilatura(html, no_fallback=True)


def _trafilatura_datatrove(html: str) -> str:
    """The settings datatrove's `Trafilatura` extractor uses (favor_precision, deduplicate)."""
    return _trafilatura(html, favor_precision=True, deduplicate=True, no_fallback=True)


_NO_RECOVERY_CONFIG = None
_NO_RECOVERY_OPTIONS = None  # the Extractor trafilatura.extract builds from those arguments, built once
# Set while the combined engine runs: trafilatura's "wild text" recovery pass is skipped.
_SKIP_RECOVERY: contextvars.ContextVar[bool] = contextvars.ContextVar("gristmill_skip_recovery", default=False)


def _install_recovery_switch() -> None:
    """Wrap trafilatura's recover_wild_text so the combined engine can turn it off for its
    own calls; every other caller (the plain trafilatura engines, datatrove) is unchanged."""
    from trafilatura import main_extractor

    original = getattr(main_extractor, "recover_wild_text", None)
    if original is None or getattr(original, "gristmill_switch", False):
        return  # another trafilatura version: the engine still works, only slower

    def recover_wild_text(tree, result_body, *args, **kwargs):
        if _SKIP_RECOVERY.get():
            return result_body
        return original(tree, result_body, *args, **kwargs)

    recover_wild_text.gristmill_switch = True
    main_extractor.recover_wild_text = recover_wild_text


# trafilatura versions whose bare_extraction / extract_content were read line by line for
# _install_copy_switch; on any other version the copies are made as usual.
COPY_SWITCH_VERSIONS = ("1.11.",)
# The tree extract_content is about to back up, while the combined engine runs (one shot).
_SKIP_COPY_OF: contextvars.ContextVar[object] = contextvars.ContextVar("gristmill_skip_copy_of", default=None)


def _install_copy_switch() -> None:
    """In the combined engine's own calls, skip the three whole-tree copies trafilatura
    makes only for the passes that engine turns off (measured ~10% of its extraction time):
    `bare_extraction`'s `tree_backup` and `cleaned_tree_backup` (read only by the fallback
    comparison, off with no_fallback, and by baseline(), off with MIN_EXTRACTED_SIZE 0) and
    `extract_content`'s `backup_tree` (read only by recover_wild_text, switched off). The
    text is the same: tests compare it with the copies made, page by page."""
    import trafilatura
    from trafilatura import core, main_extractor

    if not trafilatura.__version__.startswith(COPY_SWITCH_VERSIONS) or getattr(core.copy, "gristmill_switch", False):
        return
    real_copy, real_deepcopy, real_extract_content = core.copy, main_extractor.deepcopy, core.extract_content

    def copy(tree):  # core.copy: used for those two backups only
        return tree if _SKIP_RECOVERY.get() else real_copy(tree)

    def deepcopy(tree, memo=None):  # main_extractor.deepcopy: skipped once, for backup_tree
        if tree is not None and _SKIP_COPY_OF.get() is tree:
            _SKIP_COPY_OF.set(None)
            return tree
        return real_deepcopy(tree, memo)

    def extract_content(cleaned_tree, options):
        if not _SKIP_RECOVERY.get():
            return real_extract_content(cleaned_tree, options)
        token = _SKIP_COPY_OF.set(cleaned_tree)  # its first line is backup_tree = deepcopy(cleaned_tree)
        try:
            return real_extract_content(cleaned_tree, options)
        finally:
            _SKIP_COPY_OF.reset(token)

    for fn in (copy, deepcopy, extract_content):
        fn.gristmill_switch = True
    core.copy, main_extractor.deepcopy, core.extract_content = copy, deepcopy, extract_content
    _install_printable_fast_path()


def _install_printable_fast_path() -> None:
    """trafilatura's remove_control_characters keeps the characters that are printable or
    spaces, one Python call per character of every output line; a line that is all
    printable comes back whole, so `str.isprintable()` answers it in C (the same string, for
    every caller of trafilatura in this process). Installed with the copy switch (same versions)."""
    from trafilatura import utils

    original = utils.remove_control_characters
    if getattr(original, "gristmill_switch", False):
        return

    def remove_control_characters(string):
        return string if string.isprintable() else original(string)

    remove_control_characters.gristmill_switch = True
    remove_control_characters.original = original
    utils.remove_control_characters = remove_control_characters


def _extractor_options(config):
    """The `Extractor` that `trafilatura.extract(html, include_comments=False,
    include_tables=True, no_fallback=True, config=config)` builds on every call (its config
    reads and date parameters were ~2% of the extraction time), for the versions read
    (COPY_SWITCH_VERSIONS); None elsewhere. Nothing in an extraction changes it, and its one
    per-call field, the date range for metadata, is not read without metadata."""
    import trafilatura
    from trafilatura.settings import Extractor

    if not trafilatura.__version__.startswith(COPY_SWITCH_VERSIONS):
        return None
    return Extractor(config=config, output_format="txt", fast=True, precision=False, recall=False,
                     comments=False, formatting=False, links=False, images=False, tables=True, dedup=False,
                     lang=None, max_tree_size=None, url=None, with_metadata=False, only_with_metadata=False,
                     tei_validation=False, author_blacklist=None, url_blacklist=None, date_params=None)


def _trafilatura_then_resiliparse(html: str, min_chars: int = 250) -> str:
    """trafilatura (no fallbacks) without its "wild text" recovery and baseline passes,
    which re-walk the whole tree when the main extraction finds little (over half of the
    extraction time on crawl pages, measured); resiliparse's main text stands in for them."""
    global _NO_RECOVERY_CONFIG, _NO_RECOVERY_OPTIONS
    import trafilatura

    if _NO_RECOVERY_CONFIG is None:
        from trafilatura.settings import use_config

        _install_recovery_switch()
        _install_copy_switch()
        cfg = use_config()
        cfg.set("DEFAULT", "MIN_EXTRACTED_SIZE", "0")  # no baseline() rescue of short texts
        _NO_RECOVERY_CONFIG = cfg
        _NO_RECOVERY_OPTIONS = _extractor_options(cfg)
    if len(html) > MAX_TRAFILATURA_CHARS:  # bound the cost of pathological pages
        return _resiliparse(html)
    token = _SKIP_RECOVERY.set(True)
    try:
        if _NO_RECOVERY_OPTIONS is not None:
            text = trafilatura.extract(html, options=_NO_RECOVERY_OPTIONS) or ""
        else:
            text = trafilatura.extract(html, include_comments=False, include_tables=True, no_fallback=True,
                                       config=_NO_RECOVERY_CONFIG) or ""
    finally:
        _SKIP_RECOVERY.reset(token)
    if len(text) >= min_chars:
        return text
    alt = _resiliparse(html)
    return alt if len(alt) > len(text) else text


def _resiliparse_then_trafilatura(html: str, min_chars: int = 200) -> str:
    """resiliparse first; trafilatura (fast) only for pages where resiliparse finds little,
    which is where its main-content heuristics most often throw the article away."""
    text = _resiliparse(html)
    if len(text) >= min_chars:
        return text
    alt = _trafilatura_fast(html)
    return alt if len(alt) > len(text) else text


def _blocks(html: str) -> str:
    """Lines kept by the trained line classifier (block_model.py)."""
    from gristmill.pipeline.ingest.block_model import extract_blocks

    return extract_blocks(html)


ENGINES: dict[str, Callable[[str], str]] = {
    "blocks": _blocks,
    "resiliparse": _resiliparse,
    "resiliparse_all": _resiliparse_all,
    "trafilatura": _trafilatura_default,
    "trafilatura_fast": _trafilatura_fast,
    "trafilatura_datatrove": _trafilatura_datatrove,
    "resiliparse+trafilatura": _resiliparse_then_trafilatura,
    "trafilatura+resiliparse": _trafilatura_then_resiliparse,
}


def get_engine(name: str) -> Callable[[str], str]:
    try:
        return ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown extraction engine {name!r}; choose from {', '.join(ENGINES)}") from None
