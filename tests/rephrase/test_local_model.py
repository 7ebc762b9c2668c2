"""`--endpoint local`: a real OpenAI-compatible server with the packaged SmolLM2-135M, started,
used and stopped by the run."""

import json
import os

import pyarrow as pa
import pyarrow.parquet as pq

from gristmill.pipeline.cli import main
from gristmill.pipeline.rephrase.checks import REASONS
from gristmill.pipeline.rephrase.server import MODEL_NAME

DOCS = ["The river Thames flows through London for 346 kilometres before reaching the North Sea. It has been "
        "used for trade since Roman times, and more than 200 bridges cross it today.",
        "Honey bees live in colonies of up to 60,000 workers. A single queen lays as many as 2,000 eggs a day, "
        "while the workers gather nectar and pollen from flowers within 5 kilometres of the hive."]


def test_local_server_rephrases_and_stops(tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    pq.write_table(pa.table({"id": ["thames", "bees"], "text": DOCS, "license": ["CC-BY-4.0"] * 2}),
                   str(inp / "part-00000.parquet"))
    out = str(tmp_path / "out")
    assert main(["rephrase", str(inp), "--out", out, "--endpoint", "local", "--max-new-tokens", "48",
                 "--temperature", "0", "--workers", "1", "--quiet"]) == 0
    stats = json.load(open(os.path.join(out, "stats.json")))
    fit = stats["fit"]
    assert fit["endpoint"] == "local" and fit["http_requests"] == 2 and fit["completion_tokens"] > 0
    try:  # the server process is gone
        os.kill(fit["server_pid"], 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive
    c = stats["counters"]
    assert c["generated"] == 2 == c["accepted"] + c["rejected"] and stats["balanced"]
    kept = pq.read_table(os.path.join(out, "part-00000.parquet")).to_pylist()
    drops = pq.read_table(os.path.join(out, "dropped", "part-00000.parquet")).to_pylist()
    for r in kept:
        if r["parent_id"]:
            assert json.loads(r["generator"])["model"] == MODEL_NAME and r["license"] == "CC-BY-4.0"
            assert -1 <= r["rephrase_similarity"] <= 1
    assert all(d["reason"] in REASONS for d in drops)
    assert len(kept) == 2 + c["accepted"]
