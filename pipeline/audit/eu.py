"""Exports of the audit for others to read: the EU AI Office's public summary of training
content (template of July 2025), a Hugging Face dataset card and a Croissant JSON-LD file.

The EU summary fills what a pipeline knows (sizes in the template's bins, acquisition dates,
languages, the crawled domains, opt-out protocols honoured, the filters run) and marks every
other field `MANUAL` (provider details, commercial licences, other sources, measures outside
the pipeline), so a reviewer sees at once what is left to write.
"""

from __future__ import annotations

MANUAL = "MANUAL: to be completed by the provider"


def size_bin(tokens: int) -> str:
    """Section 1.3's bins for text."""
    if tokens < 1_000_000_000:
        return "less than 1 billion tokens"
    if tokens <= 10_000_000_000_000:
        return "1 billion to 10 trillion tokens"
    return "more than 10 trillion tokens"


def eu_summary(a: dict) -> dict:
    lv, opt, top = a["levels"], a["optouts"], a["top_domains"]
    steps = a["run"]["steps"]
    filters = sorted({e["step"] + ": " + e["reason"] for e in a["exclusions"]})
    synthetic = a["lineage"]
    return {
        "template": "EU AI Office, Template for the public summary of training content (July 2025)",
        "1_general_information": {
            "1.1_provider": MANUAL, "1.2_model": MANUAL,
            "1.3_modality_and_size": {"modality": "text", "size_bin": size_bin(lv["mixture_tokens"]),
                                      "tokens_in_mixture": lv["mixture_tokens"], "unique_tokens": lv["unique_tokens"],
                                      "trained_tokens": lv["trained_tokens"]},
            "latest_acquisition_date": a["collection"]["last_fetch"],
            "languages": sorted(a["languages"]),
        },
        "2_list_of_data_sources": {
            "2.1_publicly_available_datasets": {"filled_by_pipeline": False, "value": MANUAL,
                                                "sources_in_mixture": sorted({r["license"] for r in a["licenses"]})},
            "2.2_private_datasets_licensed": MANUAL,
            "2.3_crawled_data": {
                "crawlers": "gristmill ingest (WARC reader; robots.txt evaluated for the AI agents listed in 3.1)",
                "collection_period": {"from": a["collection"]["first_fetch"], "to": a["collection"]["last_fetch"]},
                "crawled_documents": a["collection"]["crawled_documents"],
                "domains_total": top["domains_total"],
                "top_domains_rule": "top 10% of all domains by size of content scraped (ceil(0.1 * N))",
                "top_domains": [r["domain"] for r in top["rows"]],
            },
            "2.4_user_data": MANUAL,
            "2.5_synthetic_data": {"synthetic_documents": len(synthetic),
                                   "generating_models": sorted({r["generator"] or "unknown" for r in synthetic})},
            "2.6_other_sources": MANUAL,
        },
        "3_data_processing_aspects": {
            "3.1_tdm_opt_out_measures": {
                "protocols_honoured": ["robots.txt (per AI user agent)", "TDMRep (tdm-reservation header / meta)",
                                       "noai (meta robots, X-Robots-Tag)"],
                "robots_txt_agents": opt["signals_checked"]["robots_txt_agents"],
                "documents_removed_per_signal": {r["signal"]: r["documents"] for r in opt["removed"]},
                "opted_out_tokens_in_training_data": opt["text_optout_tokens_in_mixture"],
            },
            "3.2_illegal_content_measures": {"pipeline_steps": steps, "filters_that_removed_documents": filters,
                                             "other_measures": MANUAL},
            "3.3_other_information": MANUAL,
        },
    }


def eu_markdown(s: dict) -> str:
    lines = ["# Public summary of training content", "", f"_{s['template']}_", ""]

    def walk(d, depth):
        for k, v in d.items():
            if isinstance(v, dict):
                lines.append(f"{'#' * min(depth, 6)} {k.replace('_', ' ')}")
                lines.append("")
                walk(v, depth + 1)
            elif k != "template":
                shown = ", ".join(map(str, v)) if isinstance(v, list) else v
                lines.append(f"- **{k.replace('_', ' ')}**: {shown if shown not in ('', None) else 'none'}")
        lines.append("")

    walk({k: v for k, v in s.items() if k != "template"}, 2)
    return "\n".join(lines).rstrip() + "\n"


def dataset_card(a: dict) -> str:
    """A Hugging Face dataset card (README.md of a dataset repo): YAML header + summary."""
    from gristmill.pipeline.audit.licenses import hf_license

    import yaml

    licenses = sorted({hf_license(r["license"]) for r in a["licenses"]})
    header = {"license": licenses if len(licenses) > 1 else licenses[0],
              "language": sorted(x for x in a["languages"] if x != "unknown"),
              "source_datasets": ["original"], "task_categories": ["text-generation"],
              "tags": ["gristmill", "licensing-audit"], "pretty_name": f"gristmill run {a['run']['workdir']}"}
    rows = "\n".join(f"| {r['license']} | {r['documents']} | {r['mixture_tokens']} | {r['share']:.4f} |"
                     for r in a["licenses"])
    return ("---\n" + yaml.safe_dump(header, sort_keys=True) + "---\n\n"
            f"# {header['pretty_name']}\n\nTraining tokens made by gristmill; licences per the audit "
            f"(`audit.json`).\n\n| licence | documents | tokens in mixture | share |\n|---|---|---|---|\n{rows}\n\n"
            f"Tokens in the mixture: {a['levels']['mixture_tokens']}; unique: {a['levels']['unique_tokens']}.\n")


def croissant(a: dict) -> dict:
    """Croissant 1.0 JSON-LD with its Responsible-AI (RAI) fields; the token index is the record set."""
    lv = a["levels"]
    ctx = {
        "@language": "en", "@vocab": "https://schema.org/", "sc": "https://schema.org/",
        "cr": "http://mlcommons.org/croissant/", "rai": "http://mlcommons.org/croissant/RAI/",
        "dct": "http://purl.org/dc/terms/", "citeAs": "cr:citeAs", "column": "cr:column",
        "conformsTo": "dct:conformsTo", "data": {"@id": "cr:data", "@type": "@json"},
        "dataType": {"@id": "cr:dataType", "@type": "@vocab"}, "examples": {"@id": "cr:examples", "@type": "@json"},
        "extract": "cr:extract", "field": "cr:field", "fileProperty": "cr:fileProperty", "fileObject": "cr:fileObject",
        "fileSet": "cr:fileSet", "format": "cr:format", "includes": "cr:includes", "isLiveDataset": "cr:isLiveDataset",
        "jsonPath": "cr:jsonPath", "key": "cr:key", "md5": "cr:md5", "parentField": "cr:parentField", "path": "cr:path",
        "recordSet": "cr:recordSet", "references": "cr:references", "regex": "cr:regex", "repeated": "cr:repeated",
        "replace": "cr:replace", "separator": "cr:separator", "source": "cr:source", "subField": "cr:subField",
        "transform": "cr:transform", "samplingRate": "cr:samplingRate",
        "equivalentProperty": "cr:equivalentProperty",
    }
    fields = [("offset", "sc:Integer"), ("length", "sc:Integer"), ("doc_id", "sc:Text"), ("source", "sc:Text"),
              ("license", "sc:Text"), ("url", "sc:Text"), ("epoch", "sc:Integer")]
    licenses = sorted(r["license"] for r in a["licenses"])
    return {
        "@context": ctx, "@type": "sc:Dataset", "conformsTo": "http://mlcommons.org/croissant/1.0",
        "name": f"gristmill-{a['run']['workdir']}",
        "description": f"Token shards made by gristmill: {lv['mixture_tokens']} tokens in the mixture, "
                       f"{lv['unique_tokens']} unique, from {lv['unique_documents']} documents.",
        "url": "https://github.com/gristmill/gristmill", "version": "1.0.0",
        "license": [r["url"] or r["license"] for r in a["licenses"] if r["url"]] or licenses,
        "citeAs": "gristmill run " + a["run"]["workdir"],
        # the run's data as of its latest acquisition (no clock: the same run, the same file)
        "datePublished": (a["collection"]["last_fetch"] or "1970-01-01T00:00:00+00:00")[:10],
        "rai:dataCollection": "Web crawls (WARC) and files read by gristmill; robots.txt, TDMRep and noai honoured.",
        "rai:dataCollectionTimeframe": [x for x in (a["collection"]["first_fetch"], a["collection"]["last_fetch"]) if x],
        "rai:dataPreprocessingProtocol": [f"{s}" for s in a["run"]["steps"]],
        "rai:personalSensitiveInformation":
            "PII (e-mail, phone, IP addresses) masked by the pii step where the run has one.",
        "rai:dataLimitations": "Licences are read from page evidence; documents without evidence are listed as unknown.",
        "distribution": [
            {"@type": "cr:FileObject", "@id": "manifest.json", "name": "manifest.json",
             "contentUrl": f"{a['run']['token_folder']}/manifest.json", "encodingFormat": "application/json",
             "sha256": a["run"]["tokenizer_hash"] or "unknown"},
            {"@type": "cr:FileSet", "@id": "token-index", "name": "token-index",
             "containedIn": {"@id": "manifest.json"}, "encodingFormat": "application/vnd.apache.arrow.file",
             "includes": "tokens/train-*.index.arrow"},
        ],
        "recordSet": [{
            "@type": "cr:RecordSet", "@id": "documents", "name": "documents",
            "field": [{"@type": "cr:Field", "@id": f"documents/{n}", "name": n, "dataType": t,
                       "source": {"fileSet": {"@id": "token-index"}, "extract": {"column": n}}} for n, t in fields],
        }],
    }
