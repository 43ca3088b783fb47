"""The full eval: the sample set and the cold suites, each on its own knowledge.

- the sample set (`evals/cases.yaml`) runs on the copilot's own knowledge;
- every cold suite (`evals/cold/*/cases.yaml`, a case file that names its `knowledge:` folder)
  is indexed fresh in a temporary data dir with the same embedders and scored there;
- each suite is gated by the thresholds and baseline beside its cases; the cold suites whose
  knowledge lies in the repository are also pooled and gated by `evals/cold/thresholds.yaml`.

The sample's metrics stay at the top level of the result, so scripts that read `metrics` keep
working.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import time
from pathlib import Path

from .. import machine
from . import gate, report
from .dataset import Suite, load_suite
from .metrics import aggregate, grouped

log = logging.getLogger(__name__)


@contextlib.contextmanager
def suite_copilot(copilot, suite: Suite):
    """A copilot over a suite's own knowledge, indexed fresh in a temporary data dir."""
    with tempfile.TemporaryDirectory(prefix=f"copilot-suite-{suite.name}-") as tmp:
        knowledge = suite.knowledge
        if suite.layout == "manuals":  # a flat folder of articles
            knowledge = Path(tmp) / "knowledge"
            (knowledge / "manuals").mkdir(parents=True)
            for f in sorted(suite.knowledge.iterdir()):
                if f.is_file() and not f.name.startswith("."):
                    shutil.copy(f, knowledge / "manuals" / f.name)
        c = copilot._scratch_copilot(Path(tmp) / "data", knowledge, **suite.settings)
        c.index()
        yield c


def run_all(copilot, evals_dir: Path, out: Path | None = None, *, update_baseline: bool = False, progress=None) -> dict:
    """`progress(suite name)` gives each suite's (done, total) callback."""
    out = Path(out) if out else copilot.settings.data_dir / "evals" / time.strftime("%Y%m%dT%H%M%S")
    suites: dict[str, dict] = {}
    sample = copilot.run_eval(evals_dir / "cases.yaml", out / "sample", update_baseline=update_baseline,
                              progress=progress("sample") if progress else None)
    suites["sample"] = sample
    cold_rows: list[dict] = []
    skipped: dict[str, str] = {}
    cold_dir = evals_dir / "cold"
    for path in sorted(cold_dir.glob("*/cases.yaml")):
        suite = load_suite(path)
        if suite.knowledge is None or not suite.knowledge.is_dir():
            skipped[suite.name] = f"knowledge folder {suite.knowledge} is not here"
            log.warning("eval suite %s skipped: its knowledge folder is not here", suite.name)
            continue
        # a suite's own thresholds and baseline (if any) stay as they are: the pooled cold gate is the one recorded
        res = copilot.run_eval(path, out / suite.name, progress=progress(suite.name) if progress else None)
        suites[suite.name] = res
        if suite.knowledge.is_relative_to(cold_dir.resolve()):  # outside the repo: reported, not pooled
            cold_rows += [{**r, "suite": suite.name} for r in res["cases"]]
    result: dict = {"metrics": sample["metrics"], "machine": sample["machine"], "suites": {}, "skipped": skipped}
    failures = [f"sample: {f}" for f in sample["gate_failures"]]
    for name, res in suites.items():
        result["suites"][name] = {"metrics": res["metrics"], "passed": res["passed"], "gate_failures": res["gate_failures"],
                                  "report": res["report"], "cases": len(res["cases"])}
        if name != "sample":
            failures += [f"{name}: {f}" for f in res["gate_failures"]]
    if cold_rows:
        pooled = {"overall": aggregate(cold_rows), **grouped(cold_rows)}
        cold_failures = gate.check(pooled, gate.load_thresholds(cold_dir / "thresholds.yaml"),
                                   gate.load_baseline(cold_dir / "baseline.json"))
        cold = {"metrics": pooled, "cases": cold_rows, "gate_failures": cold_failures, "passed": not cold_failures,
                "suite": "cold (pooled)", "dataset": str(cold_dir), "judge": sample.get("judge"),
                "drafter": sample.get("drafter"), "machine": sample["machine"], "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        cold["report"] = str(report.write_reports(cold, out / "cold"))
        if update_baseline:
            gate.write_baseline(cold_dir / "baseline.json", cold)
        result["cold"] = {"metrics": pooled, "gate_failures": cold_failures, "passed": not cold_failures,
                          "report": cold["report"], "cases": len(cold_rows)}
        failures += [f"cold: {f}" for f in cold_failures]
    result.update({"gate_failures": failures, "passed": not failures})
    result["report"] = str(report.write_summary(result, out))
    return result


def run_dataset(copilot, dataset: Path, out: Path | None = None, *, thresholds: Path | None = None,
                baseline: Path | None = None, update_baseline: bool = False, progress=None) -> dict:
    """Score the pipeline on a dataset, write the reports, apply the gate. The one entry
    point for the CLI, the panel's QA tab and the REST API.

    A case file that names its own knowledge folder (a cold suite) is scored on a fresh
    index of that folder in a temporary data dir, with the same embedders and settings."""
    import time

    from . import gate, report
    from .dataset import load_beir, load_suite
    from .runner import run_beir, run_cases

    dataset = Path(dataset)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if dataset.is_dir():
        result = run_beir(copilot._scratch_copilot, load_beir(dataset))
    else:
        suite = load_suite(dataset)
        if suite.knowledge is not None:
            with suite_copilot(copilot, suite) as c:
                result = run_cases(c, suite.cases, progress=progress)
        else:
            result = run_cases(copilot, suite.cases, progress=progress)
        result["suite"] = suite.name
    evals_dir = dataset.parent if dataset.is_file() else copilot.settings.evals_dir
    thresholds = thresholds or evals_dir / "thresholds.yaml"
    baseline = baseline or evals_dir / "baseline.json"
    base = gate.load_baseline(baseline)
    failures = gate.check(result["metrics"], gate.load_thresholds(thresholds) if not dataset.is_dir() else {}, base)
    result.update({"machine": machine.describe(copilot.settings.embedder_specs()),
                   "dataset": str(dataset), "started_at": started, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                   "gate_failures": failures, "passed": not failures, "baseline": base,
                   "thresholds": str(thresholds)})
    out = Path(out) if out else copilot.settings.data_dir / "evals" / time.strftime("%Y%m%dT%H%M%S")
    result["report"] = str(report.write_reports(result, out))
    if update_baseline:
        gate.write_baseline(baseline, result)
        result["baseline_updated"] = str(baseline)
    return result
