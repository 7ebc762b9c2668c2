"""A process killed in the middle of an atomic write leaves a temp file; nothing reads it."""

import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq

from gristmill.pipeline.layout import list_parts
from gristmill.pipeline.shards import TEMP_PREFIX, remove_temp_files, write_parquet_atomic
from tests.support.paths import REPO

# a writer SIGKILLed after half of its file is on disk (what a killed Dask worker leaves)
KILLED_WRITER = """
import os, signal, sys
import pyarrow as pa, pyarrow.parquet as pq
from gristmill.pipeline import shards

real_write = pq.write_table

def write_half_then_die(table, where, **kw):
    real_write(table, where, **kw)
    data = open(where, "rb").read()
    open(where, "wb").write(data[: len(data) // 2])
    os.kill(os.getpid(), signal.SIGKILL)

shards.pq.write_table = write_half_then_die
shards.write_parquet_atomic(pa.table({"key": list(range(1000))}), os.path.join(sys.argv[1], "part-00001.parquet"))
"""


def test_a_write_cut_off_by_sigkill_is_invisible_to_readers_and_swept(tmp_path):
    import dask.dataframe as dd

    folder = str(tmp_path / "docs")
    write_parquet_atomic(pa.table({"key": [1, 2, 3]}), os.path.join(folder, "part-00000.parquet"))
    r = subprocess.run([sys.executable, "-c", KILLED_WRITER, folder], env=dict(os.environ, PYTHONPATH=REPO))
    assert r.returncode == -9
    left = [n for n in os.listdir(folder) if n != "part-00000.parquet"]
    assert len(left) == 1 and left[0].startswith(TEMP_PREFIX + "part-00001.parquet-")
    # the cut-off file is no part, and Dask's folder reader (which reads every *.parquet,
    # hidden or not) does not trip over it: the corpus-wide fits read their state this way
    assert list_parts(folder) == [os.path.join(folder, "part-00000.parquet")]
    assert sorted(dd.read_parquet(folder).compute()["key"]) == [1, 2, 3]
    assert pq.read_table(os.path.join(folder, "part-00000.parquet")).num_rows == 3
    assert remove_temp_files(folder) == 1 and os.listdir(folder) == ["part-00000.parquet"]
