"""Workflow sinks of the audit area, for the end of a workflow:

* `audit@1`: the licensing audit of the run it ends (see `gristmill.pipeline.audit.audit`)
  into its step folder: audit.json, audit.html, the EU summary, top domains, attribution,
  exclusions, the dataset card and Croissant file.
* `report@1`: the run report (report.html + report.json) into its step folder.

Both read the run's workdir (from their step context), so they see every step the run wrote
before them; the run prints where the pages are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from gristmill.pipeline.params import param
from gristmill.pipeline.stage import Stage


def _workdir(ctx, given: str | None) -> str:
    workdir = given or ctx.step.workdir
    if not workdir:
        raise ValueError("no workdir to read: run this step with `gristmill run --workdir`, or give `workdir:`")
    return workdir


class AuditSink(Stage):
    """The licensing audit of the run's final training tokens, with its checks."""

    name = "audit"
    kind = "sink"
    reads = ()

    @dataclass(frozen=True)
    class Params:
        workdir: str | None = param(None, "the run to audit (default: the workdir this step is in)")
        strict: bool = param(False, "fail the step when a check fails (default: report it and go on)")

    def write(self, ctx) -> dict:
        from gristmill.pipeline.audit.audit import build_audit, write_audit

        audit = build_audit(_workdir(ctx, self.cfg.workdir))
        paths = write_audit(audit, ctx.out_dir)
        failed = [c["name"] for c in audit.data["checks"] if not c["pass"]]
        if failed and self.cfg.strict:
            raise ValueError(f"{self.versioned_name}: checks failed: {', '.join(failed)} (see {paths['audit.html']})")
        n = len(audit.data["checks"])
        return {"checks_passed": n - len(failed), "checks_failed": failed, "audit": paths["audit.json"],
                "headline": f"{n - len(failed)}/{n} checks pass; {paths['audit.html']}"}


class ReportSink(Stage):
    """The run report (funnel, drops, scores, composition, training) as one static page."""

    name = "report"
    kind = "sink"
    reads = ()
    deterministic = False  # embeds the training log's timings

    @dataclass(frozen=True)
    class Params:
        workdir: str | None = param(None, "the run to report on (default: the workdir this step is in)")
        file: str = param("report.html", "page name inside the step's folder (report.json lands beside it)")

    def write(self, ctx) -> dict:
        from gristmill.pipeline.audit.report import write_report

        paths = write_report(_workdir(ctx, self.cfg.workdir), os.path.join(ctx.out_dir, self.cfg.file))
        return {"report": paths["html"], "headline": paths["html"]}
