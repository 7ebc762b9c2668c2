"""`gristmill filter IN --out DIR --rules ...` end to end (one local worker)."""

import json
import os

import pyarrow as pa
import pyarrow.parquet as pq

from gristmill.filters.cli import FILTER_RULES
from gristmill.pipeline.cli import main

PROSE = ("The old miller walked to the river with his dog. They sat there for a while and watched the boats. "
         "Then he went home, ate some bread and slept until the sun came up again. In the morning the mill "
         "wheel turned slowly while birds sang in the trees and the miller's wife baked more bread.")


def test_filter_command_chains_rules_and_names_each_drop(tmp_path):
    evals = tmp_path / "eval.jsonl"
    leak = "a farmer has seventeen sheep and all but nine run away how many sheep does the farmer have left now"
    evals.write_text(json.dumps({"question": leak}) + "\n")
    table = pa.table({
        "id": ["ok", "pii", "optout", "leak"],
        "text": pa.array([PROSE, PROSE + " Mail me: " + " ".join(f"u{i}@example.com" for i in range(60)),
                          PROSE, PROSE + " " + leak], pa.large_string()),
        "opt_out": pa.array([None, None, ["robots:GPTBot"], None], pa.list_(pa.string())),
    })
    pq.write_table(table, tmp_path / "docs.parquet")
    out = tmp_path / "out"
    rc = main(["filter", str(tmp_path / "docs.parquet"), "--out", str(out), "--rules", "pii,license,decontaminate",
               "--eval", str(evals), "--workers", "1", "--quiet"])
    assert rc == 0
    stats = json.load(open(out / "stats.json"))
    assert stats["docs_in"] == 4 and stats["docs_out"] == 1 and stats["docs_dropped"] == 3
    assert stats["dropped_by_reason"] == {"pii_over_limit": 1, "optout_robots": 1, "eval_contamination": 1}
    kept = pq.read_table(str(out / "part-00000.parquet"))
    assert kept.column("id").to_pylist() == ["ok"] and "pii_counts" in kept.column_names
    drops = pq.read_table(str(out / "dropped"))
    assert sorted(drops.column("stage").to_pylist()) == ["decontaminate@1", "license_policy@1", "pii@1"]


def test_rule_names_resolve_to_registered_stages():
    from gristmill.pipeline import registry

    for entries in FILTER_RULES.values():
        for stage, _ in entries if isinstance(entries, list) else [entries]:
            registry.resolve(stage)
    assert {"gopher", "c4", "fineweb", "pii", "license", "decontaminate"} <= set(FILTER_RULES)


def test_decontaminate_rule_without_eval_is_a_clear_error(tmp_path, capsys):
    pq.write_table(pa.table({"id": ["a"], "text": ["x"]}), tmp_path / "d.parquet")
    rc = main(["filter", str(tmp_path / "d.parquet"), "--out", str(tmp_path / "o"), "--rules", "decontaminate"])
    assert rc == 2 and "--eval" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "o" / "stats.json")


def test_c4_badwords_rule_takes_its_list_from_badwords(tmp_path):
    (tmp_path / "words.txt").write_text("hell\n", encoding="utf-8")
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["go to hell", "shell"]}), tmp_path / "d.parquet")
    rc = main(["filter", str(tmp_path / "d.parquet"), "--out", str(tmp_path / "o"), "--rules", "c4_badwords",
               "--badwords", str(tmp_path / "words.txt"), "--workers", "1", "--quiet"])
    assert rc == 0
    drops = pq.read_table(str(tmp_path / "o" / "dropped"))
    assert drops.column("id").to_pylist() == ["a"] and drops.column("reason").to_pylist() == ["c4_badwords"]
