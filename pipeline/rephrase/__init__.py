"""Synthetic rephrasing (`rephrase@1`, `gristmill rephrase`): LLM rewrites through any
OpenAI-compatible server, checked for fidelity, never of what a licence or an opt-out
forbids, with lineage that reaches the token shards."""
