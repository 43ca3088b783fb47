"""The CI gate: minimums from evals/thresholds.yaml and the largest allowed drop against
evals/baseline.json. Every failure is one readable line."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from ..errors import InputError

LOWER_IS_BETTER = ("latency_p50_ms", "latency_p95_ms", "brier")  # brier: a squared error


def load_thresholds(path: Path) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return {}
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping with 'minimums' and 'max_drop'")
    return data


def load_baseline(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON ({exc.msg}); re-record it with --update-baseline") from exc


def _groups(metrics: dict):
    yield "overall", metrics.get("overall", {})
    for section in ("by_kind", "by_lang", "by_kind_lang"):
        for name, m in (metrics.get(section) or {}).items():
            yield f"{section[3:]}={name}", m


def check(metrics: dict, thresholds: dict, baseline: dict | None) -> list[str]:
    failures: list[str] = []
    mins = thresholds.get("minimums") or {}
    for scope, table in (("overall", mins.get("overall")), *[(f"kind={k}", v) for k, v in (mins.get("by_kind") or {}).items()],
                         *[(f"lang={k}", v) for k, v in (mins.get("by_lang") or {}).items()],
                         *[(f"kind_lang={k}", v) for k, v in (mins.get("by_kind_lang") or {}).items()]):
        if not table:
            continue
        got = dict(_groups(metrics)).get(scope)
        if got is None:
            failures.append(f"{scope}: no cases in the dataset, but thresholds.yaml sets minimums for it")
            continue
        for metric, floor in table.items():
            value = got.get(metric)
            if metric in LOWER_IS_BETTER:
                if value is not None and value > floor:
                    failures.append(f"{scope} {metric} = {value} is above the maximum {floor}")
            elif value is None or value < floor:
                failures.append(f"{scope} {metric} = {value} is below the minimum {floor}")
    max_drop = thresholds.get("max_drop")
    min_n = int(thresholds.get("min_cases_for_drop", 0))
    if baseline and max_drop is not None:
        base = dict(_groups(baseline.get("metrics", {})))
        for scope, got in _groups(metrics):
            if (got.get("n") or 0) < min_n:
                continue  # one case more or less would swing a small group's average
            for metric, old in (base.get(scope) or {}).items():
                new = got.get(metric)
                if metric in LOWER_IS_BETTER or metric == "n" or not isinstance(old, (int, float)) or not isinstance(new, (int, float)):
                    continue
                if old - new > max_drop + 1e-9:
                    failures.append(f"{scope} {metric} dropped from {old} to {new} (more than {max_drop} below the baseline)")
    return failures


def write_baseline(path: Path, result: dict) -> None:
    data = {"metrics": result["metrics"], "index_version": result.get("index_version"), "drafter": result.get("drafter"),
            "recorded_at": result.get("finished_at")}
    Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
