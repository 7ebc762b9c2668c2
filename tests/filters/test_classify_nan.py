"""fastText's `Encountered NaN.`: reproduce both causes, show gristmill handles each.

1. Uninitialised input rows (small data, wordNgrams=1, thread < 10): NaN at any lr.
2. A genuine divergence (lr too high for one-word lines with bigrams): halving lr fixes it.
"""

import json
import os
import subprocess
import sys

import pytest

from gristmill.filters import fasttext_model as ftm

SMALL = {"lr": 0.1, "epoch": 5, "dim": 100, "wordNgrams": 1, "thread": 1}
STEEP = {"lr": 8.0, "epoch": 5, "dim": 100, "wordNgrams": 2, "thread": 1, "bucket": 10_000}


def one_word_lines(path, n=200):
    with open(path, "w") as f:
        for i in range(n):
            lab = i % 2
            f.write(f"__label__{'hq' if lab else 'cc'} w{lab}_{(i * 7) % 4}\n")
    return path


RAW = """
import fasttext, json, sys
params = json.loads(sys.argv[2])
out = []
for _ in range(3):
    try:
        fasttext.train_supervised(input=sys.argv[1], verbose=0, **params)
        out.append("ok")
    except RuntimeError as e:
        out.append(str(e))
print(json.dumps(out))
"""


def test_plain_fasttext_hits_nan_on_small_data_at_low_lr(tmp_path):
    path = one_word_lines(str(tmp_path / "t.txt"))
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    res = subprocess.run([sys.executable, "-c", RAW, path, json.dumps(SMALL)], capture_output=True, text=True,
                         env=env, check=True)
    outcomes = json.loads(res.stdout.strip().splitlines()[-1])
    if "Encountered NaN." not in outcomes:
        pytest.skip(f"this fastText build did not hit the uninitialised-rows NaN here: {outcomes}")


def test_gristmill_trains_the_same_data_first_time_and_deterministically(tmp_path):
    path = one_word_lines(str(tmp_path / "t.txt"))
    runs = [ftm.train(path, str(tmp_path / f"m{k}.bin"), SMALL) for k in range(3)]
    for run in runs:
        assert [a["result"] for a in run["attempts"]] == ["ok"]
        assert run["params"]["lr"] == SMALL["lr"]
    blobs = [open(tmp_path / f"m{k}.bin", "rb").read() for k in range(3)]
    assert blobs[0] == blobs[1] == blobs[2]
    import fasttext

    labels, _ = fasttext.load_model(str(tmp_path / "m0.bin")).predict("w1_3")
    assert labels == ("__label__hq",)


def test_real_divergence_is_detected_and_lr_halved(tmp_path):
    path = one_word_lines(str(tmp_path / "t.txt"))
    run = ftm.train(path, str(tmp_path / "m.bin"), STEEP)
    results = [a["result"] for a in run["attempts"]]
    assert results[0] == "nan" and results[-1] == "ok"
    assert run["params"]["lr"] == STEEP["lr"] / 2 ** (len(results) - 1)
    assert os.path.exists(tmp_path / "m.bin")


def test_gives_up_after_max_halvings(tmp_path, monkeypatch):
    path = one_word_lines(str(tmp_path / "t.txt"))
    monkeypatch.setattr(ftm, "MAX_LR_HALVINGS", 0)
    with pytest.raises(ftm.TrainingDiverged):
        ftm.train(path, str(tmp_path / "m.bin"), STEEP)
