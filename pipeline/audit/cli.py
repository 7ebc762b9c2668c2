"""Command line of the audit area, collected by `gristmill.pipeline.cli`:

    gristmill audit WORKDIR_OR_TOKENIZED --out DIR [--strict]
    gristmill report WORKDIR --out REPORT.html

`audit` writes audit.json (same run, same bytes), audit.html, eu_summary.json/.md,
top_domains.csv, attribution.csv, exclusions.parquet, evidence.parquet, dataset_card.md and
croissant.json into DIR and prints its checks; with --strict it exits 1 when one fails.
`report` writes the run report page and REPORT.json beside it.
"""

from __future__ import annotations

import argparse

from gristmill.pipeline.commands import Command


def _audit_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="WORKDIR_OR_TOKENIZED", help="a workdir, or a token folder (gristmill tokenize --out)")
    p.add_argument("--out", required=True, help="folder for the audit's files")
    p.add_argument("--strict", action="store_true", help="exit 1 when a check fails")


def _audit(args: argparse.Namespace) -> int:
    from gristmill.pipeline.audit.audit import build_audit, write_audit

    audit = build_audit(args.path)
    paths = write_audit(audit, args.out)
    failed = 0
    for c in audit.data["checks"]:
        failed += not c["pass"]
        print(f"{'pass' if c['pass'] else 'FAIL'}  {c['name']}")
    lv = audit.data["levels"]
    print(f"tokens: {lv['unique_tokens']:,} unique, {lv['mixture_tokens']:,} in the mixture, "
          f"{'not trained' if lv['trained_tokens'] is None else format(lv['trained_tokens'], ',') + ' trained on'}")
    print(f"audit: {paths['audit.html']}\n       {paths['audit.json']}\n       {paths['eu_summary.md']}")
    return 1 if failed and args.strict else 0


def _report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="WORKDIR", help="a workdir (gristmill run ... --workdir)")
    p.add_argument("--out", required=True, help="the page to write, e.g. report.html (REPORT.json lands beside it)")


def _report(args: argparse.Namespace) -> int:
    from gristmill.pipeline.audit.report import write_report

    paths = write_report(args.path, args.out)
    print(f"report: {paths['html']}\n        {paths['json']}")
    return 0


COMMANDS = [
    Command("audit", "licensing audit of a run's training tokens (ledger, opt-outs, EU summary, checks)",
            _audit_args, _audit, runs_stages=False),
    Command("report", "run report of a workdir as one static HTML page", _report_args, _report, runs_stages=False),
]
