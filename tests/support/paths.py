"""Where the tests' data lives: the repo, its bundled samples, and ../shared/data."""

import os
import shutil

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED_DATA = os.path.normpath(os.path.join(REPO, "..", "shared", "data"))
SAMPLE = os.path.join(REPO, "workflows", "sample_data")
QUICKSTART = os.path.join(REPO, "workflows", "quickstart.yaml")


def copy_sample(dst, n_files=None):
    """Copy the bundled sample JSONL files (optionally only the first n) to `dst`."""
    os.makedirs(dst, exist_ok=True)
    files = sorted(f for f in os.listdir(SAMPLE) if f.endswith(".jsonl.gz"))
    for f in files[:n_files]:
        shutil.copy(os.path.join(SAMPLE, f), dst)
    return dst
