"""Which training documents belong together, so that no split of the training data cuts them.

Why: a classifier trained on a page's clean body (positive) against the same page's full
text (negative) sees that page's words on both sides. If the body trains and the full text
validates (or is held out), the score it gets is not the score an unseen page would get:
the model has already seen the page. So the validation folds of the search and the held-out
part of `train_classifier` are cut by *group*, a page key, and both texts of a page fall on
the same side.

The key of a document (`group_by`, `--group-by` on the command line):
* `auto` (default): the `group` column if the inputs have one, else `url` (the same page's
  two texts share their URL; gristmill's documents always carry one); rows where that
  column is null get the near-duplicate key below. Inputs with neither column: the
  near-duplicate key for every row.
* a column name: that column (nulls: the near-duplicate key).
* `near_duplicates`: the near-duplicate key for every row, whatever the columns.
* `none`: every document is its own group (the behaviour before grouping).

The near-duplicate key: two documents are linked when at least half of the word 5-gram
shingles of the shorter one also occur in the other (and at least two, unless it has only
one). Containment, not Jaccard: a page's body is *contained* in its full text, whose
boilerplate may be as long as the body, so their Jaccard similarity can be far below any
dedupe threshold. Shingles that occur in more than MAX_POSTING documents (a site's
navigation, cookie banners) are ignored, in the shared count and in the document's size
alike: they say "same site", not "same page". Groups are the connected components of these
links. Shingles are dedupe's hashes (filters/dedupe/shingles.py: lower-cased, punctuation
removed), so the key is the same on any machine; above MAX_SHINGLES shingles a fixed
hash-defined sample is used (a consistent sample keeps containment unbiased). Measured on
the 609 trafilatura_eval pages: 603 bodies join their own full page, no two pages join.

Splits are seeded: groups are taken in a seeded random order (largest first for folds, as
in bin packing), so the same inputs and seed always give the same folds and held-out part.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

AUTO, NONE, NEAR_DUPLICATES = "auto", "none", "near_duplicates"
MODES = (AUTO, NONE, NEAR_DUPLICATES)  # any other group_by is a column name
GROUP_COLUMNS = ("group", "url")  # what `auto` looks for, in this order
SHINGLE_WORDS = 5
CONTAINMENT = 0.5
MAX_POSTING = 32
MAX_SHINGLES = 1 << 24
BATCH_DOCS = 10_000
MIN_SHARED = 2  # one shared shingle links only documents that have just one


def group_column(columns, group_by: str = AUTO) -> str | None:
    """The column that holds the key for `group_by`, given the inputs' column names (None:
    no column; the near-duplicate key or no grouping applies)."""
    if group_by in (NONE, NEAR_DUPLICATES):
        return None
    if group_by == AUTO:
        return next((c for c in GROUP_COLUMNS if c in columns), None)
    if group_by not in columns:
        raise ValueError(f"group_by={group_by!r}: no such column in the training inputs ({sorted(columns)})")
    return group_by


def near_duplicate_components(text: pa.Array) -> np.ndarray:
    """A component number per document (0..k-1, numbered by first document): documents
    linked by shingle containment >= CONTAINMENT, transitively."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from gristmill.filters.dedupe.shingles import shingle_hashes, word_hashes

    n = len(text)
    if n == 0:
        return np.zeros(0, np.int64)
    text = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    # about one shingle per 6 bytes of text; above MAX_SHINGLES, a consistent sample (the same
    # shingle is kept in every document, so containment stays unbiased), batch by batch
    est = pc.sum(pc.binary_length(text.cast(pa.large_string()))).as_py() or 0
    keep_one_in = np.uint64(max(1, int(2 ** np.ceil(np.log2(max(est / 6 / MAX_SHINGLES, 1))))))
    parts_h, parts_doc = [], []
    for start in range(0, n, BATCH_DOCS):
        h, doc = shingle_hashes(*word_hashes(text.slice(start, BATCH_DOCS)), n=SHINGLE_WORDS)
        if keep_one_in > 1:
            kept = (h % keep_one_in) == 0
            h, doc = h[kept], doc[kept]
        parts_h.append(h.view(np.int64))
        parts_doc.append(doc + start)
    pairs = np.unique(np.stack([np.concatenate(parts_doc), np.concatenate(parts_h)], axis=1), axis=0)
    doc, h = pairs[:, 0], pairs[:, 1]  # distinct shingles per document
    order = np.argsort(h, kind="stable")
    doc, h = doc[order], h[order]
    starts = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])
    run = np.diff(np.r_[starts, len(h)])
    # containment counts the shingles that can link (in <= MAX_POSTING documents): boilerplate
    # shared by a whole site neither links two pages nor dilutes a page's own text
    size = np.bincount(doc[np.repeat(run <= MAX_POSTING, run)], minlength=n)
    left, right = [], []
    for s in range(2, MAX_POSTING + 1):  # every pair of documents that share a shingle, by posting size
        first = starts[run == s]
        if not len(first):
            continue
        members = doc[first[:, None] + np.arange(s)]  # (shingles, s), sorted by document within a row
        i, j = np.triu_indices(s, 1)
        left.append(members[:, i].ravel())
        right.append(members[:, j].ravel())
    labels = np.arange(n, dtype=np.int64)
    if left:
        a, b = np.concatenate(left), np.concatenate(right)
        pair, shared = np.unique(a * n + b, return_counts=True)
        a, b = pair // n, pair % n
        smaller = np.minimum(size[a], size[b])
        linked = (shared >= CONTAINMENT * smaller) & (shared >= np.minimum(MIN_SHARED, smaller))
        if linked.any():
            graph = coo_matrix((np.ones(int(linked.sum())), (a[linked], b[linked])), shape=(n, n))
            _, labels = connected_components(graph, directed=False)
    _, first_row, dense = np.unique(labels, return_index=True, return_inverse=True)
    renumber = np.empty(len(first_row), np.int64)
    renumber[np.argsort(first_row, kind="stable")] = np.arange(len(first_row))
    return renumber[dense.ravel()]


def group_ids(text: pa.Array, keys: pa.Array | None = None, group_by: str = AUTO) -> np.ndarray:
    """A group number per document (0..k-1). `keys`: the group column's values (or None);
    rows with a null key get the near-duplicate key among themselves."""
    n = len(text)
    if group_by == NONE:
        return np.arange(n, dtype=np.int64)
    ids = np.full(n, -1, dtype=np.int64)
    n_keys = 0
    if keys is not None:
        keys = keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys
        valid = np.asarray(pc.is_valid(keys).to_numpy(zero_copy_only=False), bool)
        if valid.any():
            enc = pc.dictionary_encode(keys.filter(pa.array(valid)).cast(pa.string()))
            ids[valid] = enc.indices.to_numpy(zero_copy_only=False)
            n_keys = len(enc.dictionary)
    rest = np.flatnonzero(ids < 0)
    if len(rest):
        ids[rest] = n_keys + near_duplicate_components(text.take(pa.array(rest)))
    _, dense = np.unique(ids, return_inverse=True)
    return dense.ravel().astype(np.int64)


def _class_counts(groups: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(positive, negative) documents per group (`weights`: 0/1 per row, only those rows)."""
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    w = np.ones(len(groups)) if weights is None else weights.astype(np.float64)
    pos = np.bincount(groups, weights=w * (labels == 1), minlength=n_groups).astype(np.int64)
    return pos, np.bincount(groups, weights=w, minlength=n_groups).astype(np.int64) - pos


def take_groups(groups: np.ndarray, labels: np.ndarray, limits: tuple[int, int],
                rng: np.random.Generator, among: np.ndarray | None = None) -> np.ndarray:
    """Rows of whole groups, taken in a seeded order while each class stays within its limit
    ((positive, negative)); `among`: only rows where this mask is true. A boolean row mask."""
    pos, neg = _class_counts(groups, labels, among)
    taken = np.zeros(len(pos), bool)
    if limits[0] <= 0 and limits[1] <= 0:
        return taken[groups]
    have_pos = have_neg = 0
    for g in rng.permutation(len(pos)):
        gp, gn = int(pos[g]), int(neg[g])
        if (gp or gn) and have_pos + gp <= limits[0] and have_neg + gn <= limits[1]:
            taken[g] = True
            have_pos, have_neg = have_pos + gp, have_neg + gn
            if have_pos >= limits[0] and have_neg >= limits[1]:
                break
    rows = taken[groups]
    return rows if among is None else rows & among


def hold_out(groups: np.ndarray, labels: np.ndarray, fraction: float, rng: np.random.Generator,
             among: np.ndarray | None = None) -> np.ndarray:
    """Rows of whole groups held out, in a seeded order, until each class has `fraction` of
    its documents (rounded; none for a class of one) held out. A group is taken while a class
    it holds is still short, so a class can go over by less than one group (a State of the
    Union speech is ~20 passages: with a strict limit no speech would ever fit 10% of 90), but
    never so far that the class has nothing left to train on. A boolean row mask."""
    pos, neg = _class_counts(groups, labels, among)
    total = (int(pos.sum()), int(neg.sum()))
    target = tuple(int(round(n * fraction)) if n > 1 else 0 for n in total)
    taken = np.zeros(len(pos), bool)
    have = [0, 0]
    for g in rng.permutation(len(pos)):
        counts = (int(pos[g]), int(neg[g]))
        if not any(counts):
            continue
        short = any(c and have[k] < target[k] for k, c in enumerate(counts))
        over = any(c and (have[k] >= target[k] or have[k] + c >= total[k]) for k, c in enumerate(counts))
        if short and not over:
            taken[g] = True
            have = [have[k] + counts[k] for k in range(2)]
        if have[0] >= target[0] and have[1] >= target[1]:
            break
    rows = taken[groups]
    return rows if among is None else rows & among


def assign_folds(groups: np.ndarray, labels: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """A fold number per row; a group never spans two folds. Groups go largest first (seeded
    order among equal sizes) to the fold where the group's classes are least filled, so each
    class is spread evenly over the folds (singleton groups: round-robin per class)."""
    pos, neg = _class_counts(groups, labels)
    total_pos, total_neg = max(int(pos.sum()), 1), max(int(neg.sum()), 1)
    order = rng.permutation(len(pos))
    order = order[np.argsort(-(pos + neg)[order], kind="stable")]
    fill_pos, fill_neg = [0] * folds, [0] * folds
    fold_of = np.zeros(len(pos), np.int64)
    for g in order:
        gp, gn = int(pos[g]), int(neg[g])

        def cost(f, gp=gp, gn=gn):
            return ((fill_pos[f] + gp) / total_pos if gp else 0.0) + ((fill_neg[f] + gn) / total_neg if gn else 0.0), \
                fill_pos[f] + fill_neg[f], f

        best = min(range(folds), key=cost)
        fold_of[g] = best
        fill_pos[best] += gp
        fill_neg[best] += gn
    return fold_of[groups]


def summary(groups: np.ndarray, labels: np.ndarray, by: str) -> dict:
    """What metadata.json records about the grouping."""
    pos, neg = _class_counts(groups, labels)
    return {"by": by, "groups": int(len(pos)), "groups_with_both_classes": int(np.sum((pos > 0) & (neg > 0))),
            "largest_group": int((pos + neg).max()) if len(pos) else 0}
