import pytest

from tests.audit.fixture_run import run_fixture


@pytest.fixture(scope="session")
def fixture_run(tmp_path_factory, dask_client):
    """One run of the small known workflow, shared by every audit test."""
    return run_fixture(str(tmp_path_factory.mktemp("audit_fixture")), dask_client)
