import os
import shutil

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.normpath(os.path.join(REPO, "..", "shared", "data"))
SAMPLE = os.path.join(REPO, "workflows", "sample_data")
QUICKSTART = os.path.join(REPO, "workflows", "quickstart.yaml")


@pytest.fixture
def shared_data():
    """../shared/data (real third-party files); tests using it skip where it is absent."""
    if not os.path.isdir(SHARED_DATA):
        pytest.skip(f"real test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def dask_client():
    """One real LocalCluster (2 single-threaded worker processes) shared by runner tests."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def copy_sample(dst, n_files=None):
    """Copy the bundled sample JSONL files (optionally only the first n) to `dst`."""
    os.makedirs(dst, exist_ok=True)
    files = sorted(f for f in os.listdir(SAMPLE) if f.endswith(".jsonl.gz"))
    for f in files[:n_files]:
        shutil.copy(os.path.join(SAMPLE, f), dst)
    return dst
