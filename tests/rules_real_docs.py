"""Real documents for the filter tests (a plain module, not conftest.py, so other areas keep theirs)."""

import functools
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
DATA = os.path.join(ROOT, "..", "shared", "data")


@functools.lru_cache(1)
def _real_documents(pages, per_set):
    import real_documents

    return real_documents.load(pages=pages, per_set=per_set)


def load_real_documents(pages=40, per_set=12):
    """Real documents (web pages + text sets) from ../shared/data; skips where absent."""
    if not os.path.isdir(os.path.join(DATA, "text")):
        pytest.skip("../shared/data is absent (real test data for the agreement test)")
    return _real_documents(pages, per_set)
