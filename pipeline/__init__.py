"""gristmill.pipeline: the document schema, stage contract, registry, Dask runner and CLI."""

from gristmill.pipeline.schema import DOC_SCHEMA, DROP_SCHEMA, conform  # noqa: F401
from gristmill.pipeline.stage import Stage, StageOutput, split_by_reason  # noqa: F401
