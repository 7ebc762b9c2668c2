"""The table of gristmill's built-in stages: versioned name -> "module:Class".

It sits on top of the areas (it names their modules); the core finds it through the
`gristmill.stage_tables` entry point in pyproject.toml, the same way it finds a third
party's stages, so the core never imports an area. Nothing here is imported until a
workflow uses the stage.
"""

STAGES: dict[str, str] = {
    # getting documents in (pipeline/ingest)
    "read_documents@1": "gristmill.pipeline.ingest.readers:ReadDocuments",
    "ingest@1": "gristmill.pipeline.ingest.stage:Ingest",
    "read_any@1": "gristmill.pipeline.ingest.mixed:ReadAny",
    # PDFs (ocr)
    "ocr@1": "gristmill.ocr.stage:OcrStage",
    "ocr_gpu@1": "gristmill.ocr.stage:OcrGpuStage",
    "ocr_vlm@1": "gristmill.ocr.vlm_stage:OcrVlmStage",
    # filters, dedupe, classifiers (filters)
    "length_filter@1": "gristmill.filters.length:LengthFilter",
    "datatrove@1": "gristmill.filters.datatrove_adapter:DatatroveStage",
    "filter_chain@1": "gristmill.filters.chain:FilterChain",
    "gopher_quality@1": "gristmill.filters.gopher_quality:GopherQualityFilter",
    "gopher_repetition@1": "gristmill.filters.gopher_repetition:GopherRepetitionFilter",
    "c4_quality@1": "gristmill.filters.c4:C4QualityFilter",
    "c4_badwords@1": "gristmill.filters.c4_badwords:C4BadWordsFilter",
    "fineweb_quality@1": "gristmill.filters.fineweb:FineWebQualityFilter",
    "pii@1": "gristmill.filters.pii:PIIFilter",
    "license_policy@1": "gristmill.filters.license_policy:LicensePolicy",
    "decontaminate@1": "gristmill.filters.decontaminate:Decontaminate",
    "dedupe_exact@1": "gristmill.filters.dedupe.exact:ExactDedupe",
    "dedupe_fuzzy@1": "gristmill.filters.dedupe.fuzzy:FuzzyDedupe",
    "quality_score@1": "gristmill.filters.quality:QualityScore",
    "quality_classifier@1": "gristmill.filters.quality:QualityClassifier",
    "select@1": "gristmill.filters.select:Select",
    "topics@1": "gristmill.filters.topics:TopicModel",
    # synthetic rephrasing (pipeline/rephrase)
    "rephrase@1": "gristmill.pipeline.rephrase.stage:Rephrase",
    # tokens and training (tokenize)
    "tokenize@1": "gristmill.tokenize.stages:TokenizeDocuments",
    "token_shards@1": "gristmill.tokenize.stages:TokenShards",
    "train_model@1": "gristmill.tokenize.stages:TrainModel",
    # the licensing audit and the run report (pipeline/audit)
    "audit@1": "gristmill.pipeline.audit.stages:AuditSink",
    "report@1": "gristmill.pipeline.audit.stages:ReportSink",
    # mixture search (mixing)
    "mix_swarm@1": "gristmill.mixing.stages:MixSwarm",
    "mix_fit@1": "gristmill.mixing.stages:MixFit",
    "mix_propose@1": "gristmill.mixing.stages:MixPropose",
    "mix_compare@1": "gristmill.mixing.stages:MixCompare",
}
