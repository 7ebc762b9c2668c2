"""A small, fully known run for the audit tests: 32 documents written as Parquet parts (so
they carry every column the audit reads: licence evidence, opt-out signals, parent ids of
synthetic rows, a score), then a real workflow on the runner: opt-out policy -> selection by
score -> exact dedupe -> tokenizer -> token shards -> a few steps of the bundled trainer ->
audit@1 -> report@1.

What it holds, by construction:
* 24 web documents on 12 domains (d00 the largest), licences cycling CC-BY-4.0 (rel=license
  link), CC-BY-SA-4.0 (meta tag), none, CC0-1.0 (page link);
* opt-outs: 3 `robots:GPTBot`, 2 `noai`, 1 `tdm-reservation` (all dropped by the policy) and
  1 `noimageai` (kept: it concerns images);
* one exact duplicate pair whose copies carry CC-BY-4.0 and CC-BY-NC-4.0 (a licence conflict);
* 2 synthetic rows with parent_id (parents CC-BY-4.0 and MIT) and a generator;
* 4 MIT code documents; 3 documents scoring below the selection threshold.
"""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

WORDS = ("river stone mill grain wheel water flour bread field harvest season market town road bridge "
         "north south winter summer morning evening light shadow garden orchard valley hill forest "
         "letter story record ledger keeper miller baker farmer cart horse barn fence gate path").split()
LICENSES = [("CC-BY-4.0", '<a rel="license" href="https://creativecommons.org/licenses/by/4.0/">CC BY</a>'),
            ("CC-BY-SA-4.0", '<meta name="dc.rights" content="https://creativecommons.org/licenses/by-sa/4.0/">'),
            (None, None),
            ("CC0-1.0", '<a href="https://creativecommons.org/publicdomain/zero/1.0/">CC0</a>')]
OPT_OUTS = {3: ["robots:GPTBot"], 7: ["robots:GPTBot"], 11: ["robots:GPTBot"], 5: ["noai"], 9: ["noai"],
            13: ["tdm-reservation"], 15: ["noimageai"]}
LOW_SCORE = {"w001", "w002", "code2"}
THRESHOLD = 0.1
TRAIN = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32, "batch_size": 4, "log_interval": 2,
         "eval_interval": 4, "eval_windows": 2, "checkpoint_interval": 100, "warmup_steps": 1, "device": "cpu",
         "threads": 1}
TRAIN_STEPS = 6


def _text(seed: int, words: int) -> str:
    rng = np.random.default_rng(seed)
    return " ".join(WORDS[i] for i in rng.integers(0, len(WORDS), words)) + "."


def documents() -> list[dict]:
    base = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
    rows = []
    for i in range(24):
        lic, ev = LICENSES[i % 4]
        dom = f"d{i // 2:02d}.example.org"
        rows.append({"id": f"w{i:03d}", "text": _text(i, 400 - 14 * i), "source": "web",
                     "url": f"https://{dom}/page/{i}", "domain": dom, "fetched_at": base + dt.timedelta(hours=i),
                     "license": lic, "license_evidence": ev, "opt_out": OPT_OUTS.get(i, []),
                     "parent_id": None, "generator": None})
    dup = _text(1000, 120)
    rows.append({"id": "dupA", "text": dup, "source": "web", "url": "https://d00.example.org/copy",
                 "domain": "d00.example.org", "fetched_at": base, "license": "CC-BY-4.0",
                 "license_evidence": LICENSES[0][1], "opt_out": [], "parent_id": None, "generator": None})
    rows.append({"id": "dupB", "text": dup, "source": "web", "url": "https://d01.example.org/copy",
                 "domain": "d01.example.org", "fetched_at": base + dt.timedelta(days=3), "license": "CC-BY-NC-4.0",
                 "license_evidence": '<a rel="license" href="https://creativecommons.org/licenses/by-nc/4.0/">',
                 "opt_out": [], "parent_id": None, "generator": None})
    for i in range(4):
        rows.append({"id": f"code{i}", "text": _text(2000 + i, 150), "source": "code", "url": None, "domain": None,
                     "fetched_at": None, "license": "MIT", "license_evidence": None, "opt_out": [],
                     "parent_id": None, "generator": None})
    for i, parent in enumerate(("w000", "code1")):
        rows.append({"id": f"syn{i}", "text": _text(3000 + i, 100), "source": "synthetic", "url": None,
                     "domain": None, "fetched_at": None, "license": "CC-BY-4.0" if parent == "w000" else "MIT",
                     "license_evidence": None, "opt_out": [], "parent_id": parent, "generator": "tinygen-v1/prompt-3"})
    rng = np.random.default_rng(7)
    for r in rows:
        r["score_quality"] = 0.05 if r["id"] in LOW_SCORE else float(rng.uniform(0.3, 1.0))
    return rows


SCHEMA = pa.schema([("id", pa.string()), ("text", pa.large_string()), ("source", pa.string()), ("url", pa.string()),
                    ("domain", pa.string()), ("fetched_at", pa.timestamp("us", tz="UTC")), ("license", pa.string()),
                    ("license_evidence", pa.string()), ("opt_out", pa.list_(pa.string())),
                    ("parent_id", pa.string()), ("generator", pa.string()), ("score_quality", pa.float32())])


def write_inputs(folder: str) -> list[str]:
    os.makedirs(folder, exist_ok=True)
    rows = documents()
    paths = []
    for k, chunk in enumerate((rows[:22], rows[22:])):
        path = os.path.join(folder, f"part-{k:05d}.parquet")
        pq.write_table(pa.Table.from_pylist(chunk, schema=SCHEMA), path)
        paths.append(path)
    return paths


def workflow_spec(inputs: list[str]) -> dict:
    return {"name": "audit_fixture", "inputs": inputs, "steps": [
        {"name": "license", "stage": "license_policy@1", "params": {"policy": "honour-opt-outs"}},
        {"name": "select", "stage": "select@1", "params": {"column": "score_quality", "threshold": THRESHOLD}},
        {"name": "dedupe_exact", "stage": "dedupe_exact@1", "params": {"keep": "earliest"}},
        {"name": "tokenize", "stage": "tokenize@1", "params": {"vocab_size": 320}},
        {"name": "shards", "stage": "token_shards@1", "params": {"val_fraction": 0.1, "seed": 0, "max_epochs": 2}},
        {"name": "train", "stage": "train_model@1", "params": {"steps": TRAIN_STEPS, "config": TRAIN}},
        {"name": "audit", "stage": "audit@1", "params": {"strict": True}},
        {"name": "report", "stage": "report@1"},
    ]}


def run_fixture(root: str, client) -> str:
    """Build the inputs and run the workflow; returns the workdir."""
    from gristmill.pipeline import runner, workflow

    inputs = write_inputs(os.path.join(root, "input"))
    wf = workflow.build(workflow_spec(inputs), base_dir=root)
    workdir = os.path.join(root, "run")
    runner.run(wf, workdir=workdir, client=client, quiet=True)
    return workdir
