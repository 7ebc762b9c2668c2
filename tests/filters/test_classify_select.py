import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest


from gristmill.filters.select import Select, key_to_float, sort_keys
from gristmill.pipeline.context import FitContext


def test_sort_keys_preserve_float_order_and_invert():
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(size=500).astype(np.float32), np.float32([0.0, -0.0, 1.0, -1.0, 3e-39, -3e-39])]
    keys = sort_keys(x)
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(keys[order].astype(np.int64)) >= 0)
    assert all(key_to_float(int(k)) == float(v) for k, v in zip(keys, x))


def test_threshold_mode_is_a_map_stage_with_reasons():
    s = Select(column="score_q", threshold=0.5)
    assert s.kind == "map" and s.reads == ("score_q",)
    t = pa.table({"id": list("abcd"), "text": ["x"] * 4,
                  "score_q": pa.array([0.9, 0.5, 0.2, None], pa.float32())})
    out = s.process(t)
    assert out.table.column("id").to_pylist() == ["a", "b"]
    assert dict(zip(out.drops.column("id").to_pylist(), out.drops.column("reason").to_pylist())) == \
        {"c": "below_threshold", "d": "no_score"}
    assert out.drops.column("detail")[0].as_py().startswith("score_q=0.2")


@pytest.mark.parametrize("bad", [{}, {"column": "s"}, {"column": "s", "threshold": 1, "top_fraction": 0.5},
                                 {"column": "s", "top_fraction": 0}])
def test_bad_params(bad):
    with pytest.raises(ValueError):
        Select(**bad)


def test_top_fraction_per_source_is_exact_across_shards(tmp_path):
    rng = np.random.default_rng(1)
    paths, all_scores, all_src = [], [], []
    for k in range(3):
        n = 400 + 100 * k
        score = rng.random(n).astype(np.float32)
        score[:20] = 0.5  # ties
        src = rng.choice(["web", "wiki", None], size=n).tolist()
        t = pa.table({"id": [f"{k}-{i}" for i in range(n)], "text": ["x"] * n, "source": src,
                      "score_q": pa.array(score, pa.float32())})
        pq.write_table(t, tmp_path / f"part-{k}.parquet")
        paths.append(str(tmp_path / f"part-{k}.parquet"))
        all_scores.append(score)
        all_src += src
    pq.write_table(pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())}),
                   tmp_path / "part-empty.parquet")  # empty upstream shards carry no score column
    paths.append(str(tmp_path / "part-empty.parquet"))
    s = Select(column="score_q", top_fraction=0.3)
    assert s.kind == "corpus"
    ctx = FitContext.local(paths, str(tmp_path / "out"))
    state = s.fit(ctx)
    scores = np.concatenate(all_scores)
    groups = np.array(["\x00null" if g is None else g for g in all_src])
    kept_total = 0
    s.ensure_setup(ctx.step.with_fit(state))
    for p in paths[:-1]:
        kept_total += s.process(pq.read_table(p)).table.num_rows
    expected_total = 0
    for g in ("web", "wiki", "\x00null"):
        vals = np.sort(scores[groups == g])[::-1]
        k = math.ceil(0.3 * len(vals))
        assert state["cutoffs"][g] == float(vals[k - 1])  # exactly the k-th largest score
        expected_total += int(np.sum(vals >= vals[k - 1]))
    assert kept_total == expected_total
