"""Token shard format constants shared by the tokenizer, the exporters and the trainer."""

from __future__ import annotations

import numpy as np


def token_dtype(vocab_size: int) -> np.dtype:
    """Smallest unsigned dtype that holds every id of a `vocab_size` vocabulary."""
    if vocab_size <= 0:
        raise ValueError("vocab_size must be positive")
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.uint32)
