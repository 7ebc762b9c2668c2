"""fastText binary classifiers: training-file preparation, safe training, batch scoring.

Text normalisation (training and scoring alike, and the same as datatrove's
`FastTextClassifierFilter(newline_replacement=" ")`): trim Unicode whitespace at both ends,
then newlines -> spaces (fastText reads one document per line).

Why training runs in a child process (the `Encountered NaN.` story, measured here):
fastText's `DenseMatrix::uniform()` initialises the input matrix in blocks of (rows*dim)/10
values, one block per training thread, so with `thread < 10` most of the matrix is never
written. The fastText build that works with numpy 2 stores matrices in an `AlignedVector`
(`aligned_alloc`), which is not zeroed, so those rows hold whatever the heap held before:
garbage that turns into NaN in the first dot products. Big matrices (2M hash buckets) come
from fresh, zeroed `mmap` pages and train fine, which is why it shows on small data,
`wordNgrams=1` (no buckets) and processes that already freed memory, at any learning rate,
and not deterministically. The fix is at the cause: the child starts with glibc's
allocator set to hand out zero-filled memory (`perturb=255` and no thread cache), so the
rows fastText skips are exactly 0 and a one-thread run is deterministic. A NaN that still
happens is then a genuine divergence (learning rate too high for the data; e.g. one-word
lines with bigrams diverge at lr >= 4): we halve the learning rate and train again, and
record every attempt in the model's metadata.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

LABEL_PREFIX = "__label__"
POSITIVE, NEGATIVE = "hq", "cc"
# glibc: every malloc'd block is zero-filled (perturb byte 255 -> memset 0x00), and the
# per-thread cache (whose blocks skip that) is off. Ignored (harmlessly) outside glibc.
ZEROED_MALLOC = "glibc.malloc.tcache_count=0:glibc.malloc.perturb=255"
DEFAULT_PARAMS = {"lr": 0.5, "epoch": 10, "dim": 32, "wordNgrams": 2, "minCount": 1,
                  "loss": "softmax", "thread": 1, "seed": 0, "bucket": 100_000}
MAX_LR_HALVINGS = 8


class TrainingDiverged(RuntimeError):
    pass


def normalize(text: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The one text normalisation fastText sees: trim, then newline -> space (null -> "")."""
    text = pc.fill_null(text.cast(pa.large_string()), "")
    out = pc.replace_substring(pc.utf8_trim_whitespace(text), "\n", " ")
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def _without_labels(text: pa.Array | pa.ChunkedArray) -> pa.Array:
    return pc.replace_substring_regex(normalize(text), r"__label__\S*", "")


def has_words(text: pa.Array | pa.ChunkedArray) -> pa.Array:
    """True where `training_lines` gives the document a line (something is left once
    normalised and stripped of label tokens): callers that carry a per-document column
    beside the text (a group key) filter it with this to stay aligned."""
    return pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(_without_labels(text))), 0)


def training_lines(text: pa.Array, label: str) -> pa.Array:
    """`__label__<label> <text>\\n` per document (columnar). Tokens that fastText would read
    as labels are removed from the text; empty documents give no line."""
    norm = _without_labels(text)
    norm = norm.filter(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(norm)), 0))
    prefix = pa.scalar(f"{LABEL_PREFIX}{label} ", pa.large_string())
    return pc.binary_join_element_wise(prefix, norm, pa.scalar("\n", pa.large_string()),
                                       pa.scalar("", pa.large_string()))


def write_lines(lines: pa.Array, path: str) -> int:
    """Write a large_string array of complete lines as one file (its data buffer, no copies)."""
    lines = lines.cast(pa.large_string())
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset:lines.offset + len(lines) + 1]
    data = lines.buffers()[2]
    with open(path, "wb") as f:
        if len(lines):
            f.write(memoryview(data)[offsets[0]:offsets[-1]])
    return len(lines)


def train(train_file: str, model_path: str, params: dict | None = None) -> dict:
    """Train in a child process with zero-filled allocations; on a real divergence halve lr.

    Returns {"params": final params, "attempts": [{"lr", "result", "seconds"}...]}.
    """
    params = {**DEFAULT_PARAMS, **(params or {})}
    attempts = []
    for _ in range(MAX_LR_HALVINGS + 1):
        res = _train_child(train_file, model_path, params)
        attempts.append({"lr": params["lr"], "result": res["result"], "seconds": res["seconds"]})
        if res["result"] == "ok":
            return {"params": params, "attempts": attempts}
        if res["result"] != "nan":
            raise RuntimeError(f"fastText training failed: {res.get('error')}")
        params = {**params, "lr": params["lr"] / 2}
    raise TrainingDiverged(f"fastText diverged (Encountered NaN.) at every lr down to {params['lr'] * 2:g}; "
                           f"attempts: {attempts}")


def _train_child(train_file: str, model_path: str, params: dict) -> dict:
    res = run_child("gristmill.filters.fasttext_model", {"input": train_file, "output": model_path, "params": params})
    return res if res.get("result") != "error" else {**res, "seconds": 0.0}


def run_child(module: str, job: dict) -> dict:
    """Run `python -m module JOB.json` with the zero-filling allocator; its last JSON line, or
    {"result": "error", "error": ...}. (The hyperparameter search's children run this way too.)"""
    return run_children(module, [job], parallel=1)[0]


def run_children(module: str, jobs: list[dict], parallel: int) -> list[dict]:
    """`run_child` for each job, at most `parallel` child processes at once; results in job order."""
    env = dict(os.environ)
    env["GLIBC_TUNABLES"] = ":".join(x for x in (env.get("GLIBC_TUNABLES"), ZEROED_MALLOC) if x)
    paths = []
    for job in jobs:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(job, f)
            paths.append(f.name)
    results: list[dict] = []
    try:
        for start in range(0, len(paths), max(1, parallel)):
            procs = [subprocess.Popen([sys.executable, "-m", module, path], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
                     for path in paths[start:start + max(1, parallel)]]
            for proc in procs:
                stdout, stderr = proc.communicate()
                lines = [x for x in stdout.splitlines() if x.startswith("{")]
                if proc.returncode != 0 or not lines:
                    results.append({"result": "error", "error": (stderr or stdout)[-2000:]})
                else:
                    results.append(json.loads(lines[-1]))
    finally:
        for path in paths:
            os.unlink(path)
    return results


def _child_main(job_path: str) -> None:
    import time

    import fasttext

    with open(job_path) as f:
        job = json.load(f)
    t0 = time.perf_counter()
    try:
        model = fasttext.train_supervised(input=job["input"], verbose=0, **job["params"])
    except RuntimeError as e:
        if "NaN" not in str(e):
            raise
        print(json.dumps({"result": "nan", "seconds": round(time.perf_counter() - t0, 3)}))
        return
    model.save_model(job["output"])
    print(json.dumps({"result": "ok", "seconds": round(time.perf_counter() - t0, 3)}))


class Scorer:
    """A loaded model that scores Arrow text columns: probability of one label.

    engine "auto" (default): the compiled columnar predictor (fasttext_fast) where the model
    qualifies, checked once per process against fastText's own predict on the first 256
    documents (any difference: fastText is used instead); "fasttext": fastText's multi-line
    predict in batches; "compiled": the compiled one, unchecked. Scores equal fastText's (and
    datatrove's) single-document predict bit for bit.
    """

    BATCH = 4096

    def __init__(self, model_path: str, label: str = POSITIVE, engine: str = "auto"):
        import fasttext

        from gristmill.filters import fasttext_fast

        self.model = fasttext.load_model(model_path)
        self.label = label if label.startswith(LABEL_PREFIX) else LABEL_PREFIX + label
        if self.label not in self.model.labels:
            raise ValueError(f"label {self.label!r} not in model labels {self.model.labels}")
        self.fast = None
        if engine in ("auto", "compiled") and fasttext_fast.supports(self.model):
            self.fast = fasttext_fast.FastPredictor(self.model)
            self.label_index = self.fast.labels.index(self.label)
        elif engine == "compiled":
            raise ValueError("the compiled scorer needs a softmax model without subwords or quantisation")
        self.checked = engine != "auto"

    def score(self, text: pa.Array | pa.ChunkedArray) -> pa.Array:
        if self.fast is not None:
            norm = normalize(text)
            if not self.checked:  # once per process: the compiled path must equal fastText's
                self.checked = True
                head = norm.slice(0, 256)
                if not np.array_equal(self.fast.predict(head)[:, self.label_index], self._fasttext(head)):
                    import warnings

                    warnings.warn("compiled fastText scorer disagrees with fastText here; using fastText's predict")
                    self.fast = None
                    return self.score(text)
            scores = self.fast.predict(norm)[:, self.label_index]
            return self._with_nulls(text, scores)
        return self._with_nulls(text, self._fasttext(normalize(text)))

    def _fasttext(self, norm: pa.Array) -> np.ndarray:
        """fastText's own multi-line predict, in bounded batches."""
        n = len(norm)
        lines = pc.binary_join_element_wise(norm, pa.scalar("\n", pa.large_string()),
                                            pa.scalar("", pa.large_string()))
        scores = np.empty(n, dtype=np.float32)
        want = self.label
        for start in range(0, n, self.BATCH):  # bounded memory: Python strings per batch only
            batch = lines.slice(start, self.BATCH).to_pylist()
            labels, probs = self.model.f.multilinePredict(batch, -1, 0.0, "strict")
            scores[start:start + len(batch)] = [p[lab.index(want)] if want in lab else 0.0
                                                for lab, p in zip(labels, probs)]
        return scores

    @staticmethod
    def _with_nulls(text, scores: np.ndarray) -> pa.Array:
        nulls = pc.is_null(text)
        mask = nulls.to_numpy(zero_copy_only=False) if pc.any(nulls).as_py() else None
        return pa.array(scores, pa.float32(), mask=mask)


if __name__ == "__main__":
    _child_main(sys.argv[1])
