"""Evaluation examples (gsm8k_qa, humaneval_code) planted into real text are found."""

import gzip
import json
import os

import pyarrow as pa
import pytest

from tests.support.paths import SHARED_DATA as DATA
from gristmill.filters.decontaminate import Decontaminate

GSM = os.path.join(DATA, "text", "gsm8k_qa", "test.jsonl")
HUMANEVAL = os.path.join(DATA, "text", "humaneval_code", "HumanEval.jsonl.gz")
pytestmark = pytest.mark.skipif(not os.path.exists(GSM), reason="../shared/data (eval sets) is absent")


def real_paragraphs(n):
    text = open(os.path.join(DATA, "text", "wikitext2", "valid.txt"), encoding="utf-8").read()
    return [p for p in text.split("\n \n") if len(p.split()) > 60][:n]


def test_planted_examples_are_dropped_and_named():
    gsm = [json.loads(line) for line in open(GSM, encoding="utf-8")][:5]
    he = [json.loads(line) for line in gzip.open(HUMANEVAL, "rt", encoding="utf-8")][:5]
    texts = real_paragraphs(30)
    texts[2] += "\n\n" + gsm[0]["question"].upper()  # case and layout changes do not hide it
    texts[5] = texts[5][:300] + "\n" + gsm[3]["answer"] + "\n" + texts[5][300:]
    texts[9] += "\n```python\n" + he[1]["prompt"] + he[1]["canonical_solution"] + "```"
    texts[12] = he[4]["prompt"].replace("    ", "\t") + "\n" + texts[12]
    table = pa.table({"id": [f"d{i}" for i in range(len(texts))], "text": pa.array(texts, pa.large_string())})
    out = Decontaminate(eval_files=[GSM, HUMANEVAL]).process(table)
    dropped = dict(zip(out.drops.column("id").to_pylist(), out.drops.column("detail").to_pylist()))
    assert sorted(dropped) == ["d12", "d2", "d5", "d9"]
    assert "gsm8k_qa/test" in dropped["d2"] and "humaneval_code/HumanEval" in dropped["d9"]
    assert set(out.drops.column("reason").to_pylist()) == {"eval_contamination"}
    assert max(out.table.column("score_contamination").to_pylist()) == 0.0


def test_flag_mode_keeps_documents_and_scores_them(tmp_path):
    evals = tmp_path / "my_eval.txt"
    sentence = "the quick brown fox jumps over the lazy dog while thirteen words are counted here today"
    evals.write_text(sentence + "\n\nanother unrelated example that is far too short\n")
    texts = ["Intro. " + sentence.title() + " and more.", "nothing to see " * 20]
    table = pa.table({"id": ["a", "b"], "text": pa.array(texts, pa.large_string())})
    out = Decontaminate(eval_files=[str(evals)], action="flag").process(table)
    assert out.drops.num_rows == 0
    scores = out.table.column("score_contamination").to_pylist()
    assert scores[0] > 0.3 and scores[1] == 0.0
    short = Decontaminate(eval_files=[str(evals)], n=20).process(table)  # example shorter than n: no n-grams
    assert short.drops.num_rows == 0


def test_needs_eval_files():
    with pytest.raises(ValueError):
        Decontaminate().process(pa.table({"id": ["a"], "text": ["x"]}))
    with pytest.raises(FileNotFoundError):
        Decontaminate(eval_files=["no/such/eval.jsonl"])
