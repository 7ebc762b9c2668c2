"""License policy stage on hand-built tables carrying ingest's license / opt-out columns."""

import pyarrow as pa
import pytest

from gristmill.filters.license_policy import LicensePolicy, load_policy, presets

ROWS = [  # id, license, opt_out
    ("by", "CC-BY-4.0", []),
    ("nc", "CC-BY-NC-4.0", ["robots:GPTBot"]),
    ("ncnd", "CC-BY-NC-ND-4.0", None),
    ("sa", "CC-BY-SA-4.0", ["noai"]),
    ("unknown", None, ["tdm-reservation"]),
    ("cc0", "CC0-1.0", ["noimageai"]),
    ("nd", "CC-BY-ND-4.0", ["robots:*"]),
    ("pdm", "CC-PDM-1.0", []),
]


def table():
    return pa.table({
        "id": [r[0] for r in ROWS], "text": pa.array(["some text"] * len(ROWS), pa.large_string()),
        "license": [r[1] for r in ROWS], "opt_out": pa.array([r[2] for r in ROWS], pa.list_(pa.string())),
        "license_evidence": ["https://creativecommons.org/licenses/by/4.0/"] + [None] * (len(ROWS) - 1)})


def run(policy):
    out = LicensePolicy(policy=policy).process(table())
    assert out.table.num_rows + out.drops.num_rows == len(ROWS)
    return out, dict(zip(out.drops.column("id").to_pylist(), out.drops.column("reason").to_pylist()))


def test_presets_are_shipped():
    assert presets() == ["everything-logged", "honour-opt-outs", "permissive-only"]


def test_permissive_only_names_the_rule_for_each_drop():
    out, dropped = run("permissive-only")
    assert out.table.column("id").to_pylist() == ["by", "cc0", "pdm"]
    assert dropped == {"nc": "license_non_commercial", "ncnd": "license_non_commercial", "sa": "license_share_alike",
                       "unknown": "license_unknown", "nd": "license_no_derivatives"}
    assert "license=CC-BY-NC-4.0" in out.drops.column("detail")[0].as_py()


def test_honour_opt_outs():
    out, dropped = run("honour-opt-outs")
    assert dropped == {"nc": "optout_robots", "nd": "optout_robots", "sa": "optout_noai",
                       "unknown": "optout_tdm_reservation"}
    assert "opt_out=robots:GPTBot" in out.drops.column("detail")[0].as_py()


def test_everything_logged_keeps_all_and_annotates():
    out, dropped = run("everything-logged")
    assert dropped == {} and out.table.num_rows == len(ROWS)
    meta = {i: dict(m)["license_policy"] for i, m in zip(out.table.column("id").to_pylist(),
                                                         out.table.column("meta").to_pylist())}
    assert meta["nc"] == "optout_robots,license_non_commercial"
    assert meta["cc0"] == "optout_noimageai,license_permissive"
    assert out.counters["policy_license_permissive"] == 3


def test_user_policy_from_yaml_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nrules:\n  - {name: no_gptbot, opt_out: ['robots:gptbot'], action: drop}\n"
                    "  - {name: only_by, license: ['cc-by-*'], source: ['web'], action: keep}\n"
                    "default: {name: not_allowed, action: drop}\n")
    t = table().append_column("source", pa.array(["web"] * len(ROWS)))
    out = LicensePolicy(policy=str(path)).process(t)
    reasons = dict(zip(out.drops.column("id").to_pylist(), out.drops.column("reason").to_pylist()))
    assert out.table.column("id").to_pylist() == ["by", "ncnd", "sa", "nd"]  # glob is case-insensitive
    assert reasons == {"nc": "no_gptbot", "unknown": "not_allowed", "cc0": "not_allowed", "pdm": "not_allowed"}


def test_bad_policies_fail_early():
    with pytest.raises(ValueError):
        load_policy("no-such-preset")
    with pytest.raises(ValueError):
        load_policy({"rules": [{"name": "x", "action": "delete"}]})
    with pytest.raises(ValueError):
        load_policy({"rules": [{"name": "x", "action": "drop", "licence": ["MIT"]}]})


def test_annotation_keeps_existing_meta_entries():
    meta = pa.array([[("warc_id", "w1"), ("license_policy", "stale")]] + [None] * (len(ROWS) - 1),
                    pa.map_(pa.string(), pa.string()))
    out = LicensePolicy(policy="everything-logged").process(table().append_column("meta", meta))
    first = out.table.column("meta")[0].as_py()
    assert first == [("warc_id", "w1"), ("license_policy", "license_permissive")]
