import os

import pytest

from tests.support.paths import QUICKSTART, REPO, SAMPLE, SHARED_DATA, copy_sample  # noqa: F401


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
