"""Second-stage models tried against the shipped one, held out by site: a record of what did
not beat `blocks` v2, so the measurement can be repeated (README, "Crawl ingest").

Every variant reads the same first-model scores: for each of the trainer's 5 site folds, the
line model trained on the other folds scores the held-out pages, and the training pages get
out-of-fold scores from 5 inner site folds (as `fit_blocks` trains the shipped second model).
Variants of the second stage:
- `context`: the shipped one, a small tree ensemble over the line features and
  `context_features` (scikit-learn's predictions, not the exported arrays: the same up to
  float rounding);
- `cnn`: a dilated 1D convolution over the page's lines (kernel 5, dilations 1/2/4, ±14 lines
  seen, plus the page's mean state), reading the standardised features and the first score;
- `mix`: the mean of `context` and `cnn`;
- `lexical`: `context` plus one more feature, a fastText classifier's score of the line's words
  (trained on the labelled lines of the training pages; out of fold on them, as the first scores).

    python benchmarks/try_line_models.py --aeb-root AEB --readability-root READABILITY
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as in the trainer: one thread, same result, no spin-waits

import argparse  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import eval_aeb  # noqa: E402
import train_block_extractor as trainer  # noqa: E402

from gristmill.pipeline.ingest.blocks import context_features  # noqa: E402

VARIANTS = ("context", "cnn", "mix", "lexical")
WORD, DIGIT = re.compile(r"\w+"), re.compile(r"\d")


def fold_scores(pages: list[dict], seed: int) -> list[dict]:
    """Per outer site fold: held-out page indices and their first scores, training page
    indices and their out-of-fold first scores."""
    out = []
    for train, test in trainer._site_folds(pages, 5, seed):
        lines = trainer.fit(train)
        held = set(test.tolist())
        out.append({"test": list(test), "train": [i for i in range(len(pages)) if i not in held],
                    "test_scores": [lines.predict_proba(pages[i]["X"])[:, 1] if len(pages[i]["X"]) else np.zeros(0)
                                    for i in test],
                    "inner": trainer.out_of_fold_scores(train, 5, seed, trainer.SILVER_WEIGHT)})
    return out


def line_targets(p: dict) -> tuple[np.ndarray, np.ndarray]:
    """Labels and weights as the trainer's `fit` gives them: gold 1, silver SILVER_WEIGHT."""
    gold, silver = p["y"] >= 0, p.get("silver")
    if silver is None:
        return np.where(gold, p["y"], 0).astype(np.float32), gold.astype(np.float32)
    return (np.where(gold, p["y"], silver).astype(np.float32),
            np.where(gold, 1.0, trainer.SILVER_WEIGHT).astype(np.float32))


def train_cnn(pages: list[dict], scores: list[np.ndarray], seed: int, hidden: int = 32, epochs: int = 30):
    """A trained line CNN, as a function (page, first scores) -> probabilities."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    X_all = np.vstack([p["X"] for p in pages if len(p["X"])])
    mu, sd = X_all.mean(0), X_all.std(0) + 1e-6

    def inputs(p, s):
        logit = np.log(np.clip(s, 1e-4, 1)) - np.log(np.clip(1 - s, 1e-4, 1))
        return np.column_stack([(p["X"] - mu) / sd, s, logit]).astype(np.float32)

    class LineCNN(torch.nn.Module):
        def __init__(self, d_in):
            super().__init__()
            self.inp = torch.nn.Linear(d_in, hidden)
            self.convs = torch.nn.ModuleList(torch.nn.Conv1d(hidden, hidden, 5, dilation=d, padding=2 * d)
                                             for d in (1, 2, 4))
            self.out = torch.nn.Linear(2 * hidden, 1)

        def forward(self, x, mask):
            gelu, m = torch.nn.functional.gelu, mask[:, None, :]
            h = gelu(self.inp(x)).transpose(1, 2)
            for conv in self.convs:
                h = h + gelu(conv(h * m))
            h = h * m
            page = h.sum(2, keepdim=True) / m.sum(2, keepdim=True).clamp(min=1)
            return self.out(torch.cat([h, page.expand_as(h)], 1).transpose(1, 2)).squeeze(-1)

    items = [(inputs(p, s), *line_targets(p)) for p, s in zip(pages, scores) if len(p["X"])]
    order = sorted(range(len(items)), key=lambda i: len(items[i][0]))  # pages of like length batch together
    batches = [order[i:i + 16] for i in range(0, len(order), 16)]
    net = LineCNN(items[0][0].shape[1])
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * len(batches))
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        for b in rng.permutation(len(batches)):
            chunk = [items[i] for i in batches[b]]
            n = max(len(c[0]) for c in chunk)
            x, y, w, m = (np.zeros((len(chunk), n) + shape, np.float32) for shape in ((chunk[0][0].shape[1],), (), (), ()))
            for j, (xi, yi, wi) in enumerate(chunk):
                x[j, :len(xi)], y[j, :len(xi)], w[j, :len(xi)], m[j, :len(xi)] = xi, yi, wi, 1
            x, y, w, m = map(torch.from_numpy, (x, y, w, m))
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x, m), y, reduction="none")
            loss = (loss * w).sum() / w.sum().clamp(min=1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()

    def predict(p, s):
        with torch.no_grad():
            x = torch.from_numpy(inputs(p, s))[None]
            return torch.sigmoid(net(x, torch.ones(1, len(s)))).numpy()[0]
    return predict


def _words(text: str) -> str:
    return " ".join(WORD.findall(DIGIT.sub("0", text.lower())))


def train_lexical(pages: list[dict], seed: int, min_words: int = 3):
    """fastText over the words of the gold-labelled lines; a function page -> P(main text) per
    line (0.5 for lines under min_words words)."""
    import fasttext

    fd, path = tempfile.mkstemp(suffix=".txt")
    with os.fdopen(fd, "w") as f:
        for p in pages:
            for text, y in zip(p["texts"], p["y"]):
                words = _words(text)
                if y >= 0 and words.count(" ") + 1 >= min_words:
                    f.write(f"__label__{int(y)} {words}\n")
    model = fasttext.train_supervised(path, epoch=10, wordNgrams=2, dim=32, minCount=2, lr=0.5, thread=1,
                                      seed=seed, verbose=0)
    os.remove(path)

    def score(p):
        out = np.full(len(p["texts"]), 0.5)
        words = [_words(t) for t in p["texts"]]
        use = [j for j, w in enumerate(words) if w.count(" ") + 1 >= min_words]
        if use:
            labels, probs = model.predict([words[j] for j in use], k=2)
            for j, lab, pr in zip(use, labels, probs):
                out[j] = dict(zip(lab, pr)).get("__label__1", 0.0)
        return out
    return score


def held_out(pages: list[dict], folds: list[dict], variants: list[str], seed: int) -> dict[str, list]:
    """{variant: per-page line probabilities}, every page scored by models that never saw its site."""
    probs = {v: [np.zeros(0)] * len(pages) for v in variants}
    for k, f in enumerate(folds, 1):
        train = [pages[i] for i in f["train"]]
        ctx_rows = [{**p, "X": context_features(p["X"], q)} for p, q in zip(train, f["inner"])]
        context = trainer.fit(ctx_rows, trainer.SILVER_WEIGHT, trainer.CONTEXT_PARAMS)
        cnn = train_cnn(train, f["inner"], seed) if {"cnn", "mix"} & set(variants) else None
        lexical = extended = None
        if "lexical" in variants:
            inner_lex = [np.zeros(0)] * len(train)
            for sub, test in trainer._site_folds(train, 5, seed):
                score = train_lexical(sub, seed)
                for j in test:
                    inner_lex[j] = score(train[j])
            lexical = train_lexical(train, seed)
            extended = trainer.fit([{**r, "X": np.column_stack([r["X"], a])} for r, a in zip(ctx_rows, inner_lex)],
                                   trainer.SILVER_WEIGHT, trainer.CONTEXT_PARAMS)
        for i, s in zip(f["test"], f["test_scores"]):
            p = pages[i]
            if not len(p["X"]):
                continue
            C = context_features(p["X"], s)
            got = {"context": context.predict_proba(C)[:, 1]}
            if cnn is not None:
                got["cnn"] = cnn(p, s)
                got["mix"] = (got["context"] + got["cnn"]) / 2
            if extended is not None:
                got["lexical"] = extended.predict_proba(np.column_stack([C, lexical(p)]))[:, 1]
            for v in variants:
                probs[v][i] = got[v]
        print(f"  fold {k} of {len(folds)} scored", flush=True)
    return probs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=trainer.DEFAULT_ROOT)
    ap.add_argument("--aeb-root", required=True, help="checkout of scrapinghub/article-extraction-benchmark")
    ap.add_argument("--readability-root", help="checkout of mozilla/readability")
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    variants = args.variants.split(",")
    if unknown := set(variants) - set(VARIANTS):
        ap.error(f"unknown variants: {', '.join(sorted(unknown))}")
    t0 = time.perf_counter()
    pages = trainer.load_pages(args.root) + trainer.load_external(args.aeb_root, args.readability_root)
    print(f"{len(pages)} pages ({time.perf_counter() - t0:.0f} s); first-model scores by site fold ...", flush=True)
    folds = fold_scores(pages, args.seed)
    print(f"  done ({time.perf_counter() - t0:.0f} s)", flush=True)
    probs = held_out(pages, folds, variants, args.seed)
    scorer = eval_aeb.shingle_scorer(args.aeb_root)
    print(f"held-out F1 by site (seed {args.seed}), keep at " + " / ".join(map(str, trainer.THRESHOLDS)))
    for v in variants:
        by_set = trainer._by_set(pages, probs[v], scorer)
        cells = [f"{name} " + " / ".join(f"{s[at]['f1']:.4f}" for at in s) for name, s in by_set.items()]
        mean = " / ".join(f"{m['f1']:.4f}" for m in trainer.mean_f1(by_set).values())
        print(f"  {v:8s} " + "   ".join(cells) + f"   mean {mean}")
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
