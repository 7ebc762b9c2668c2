"""Corpus-wide deduplication: exact (normalised-text hash) and fuzzy (MinHash-LSH), on Dask."""
