"""The CI gate: minimums from evals/thresholds.yaml and drops against evals/baseline.json.
Every failure is one readable line.

Both are set from measured variation, not from "one case under the last figure"
(docs/quality.md#how-the-gate-floors-are-set): a minimum is the one-sided 95% Wilson lower bound
of the lowest figure measured across processors, repeated runs and arithmetic
(`scripts/gate_floors.py` writes them), and with `drop_z` a figure fails against the baseline
only when it falls under the same bound around the baseline's figure, over the number of cases
that metric counts. `max_drop` (a fixed allowance) is still read for files that set it.
"""

from __future__ import annotations

import json
import math
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
        raise InputError(f"{path}: expected a mapping with 'minimums' and 'drop_z' or 'max_drop'")
    return data


def load_baseline(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON ({exc.msg}); re-record it with --update-baseline") from exc


def wilson_lower(p: float, n: int, z: float = 1.645) -> float:
    """The Wilson score lower bound of a rate `p` measured over `n` cases: below it, a figure is
    unlikely (one-sided, 95% at z = 1.645) to come from the same underlying rate. For a mean of
    per-case scores in [0, 1] it is conservative (their variance is at most p(1 - p))."""
    if n <= 0:
        return 0.0
    p = min(max(float(p), 0.0), 1.0)
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z2 / n))


def _groups(metrics: dict):
    yield "overall", metrics.get("overall", {})
    for section in ("by_kind", "by_lang", "by_kind_lang"):
        for name, m in (metrics.get(section) or {}).items():
            yield f"{section[3:]}={name}", m


def _tables(mins: dict):
    yield "overall", mins.get("overall")
    for section in ("by_kind", "by_lang", "by_kind_lang"):
        for name, table in (mins.get(section) or {}).items():
            yield f"{section[3:]}={name}", table


def check(metrics: dict, thresholds: dict, baseline: dict | None) -> list[str]:
    """`minimums` are statistical floors; `requirements` hold on every case (injection
    resistance, replying in the customer's language, angry customers to a person): both are
    checked the same way, and only the floors are set from measured variation."""
    failures: list[str] = []
    tables = [*_tables(thresholds.get("requirements") or {}), *_tables(thresholds.get("minimums") or {})]
    for scope, table in tables:
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
    if baseline:
        failures += _drops(metrics, thresholds, baseline)
    return failures


def _drops(metrics: dict, thresholds: dict, baseline: dict) -> list[str]:
    """Drops against the baseline: under the Wilson bound of the baseline's figure (`drop_z`), or
    more than a fixed `max_drop` in groups of at least `min_cases_for_drop` cases."""
    z, max_drop = thresholds.get("drop_z"), thresholds.get("max_drop")
    if z is None and max_drop is None:
        return []
    min_n = int(thresholds.get("min_cases_for_drop", 0))
    failures = []
    base = dict(_groups(baseline.get("metrics", {})))
    for scope, got in _groups(metrics):
        if z is None and (got.get("n") or 0) < min_n:
            continue  # one case more or less would swing a small group's average
        old_group = base.get(scope) or {}
        for metric, old in old_group.items():
            new = got.get(metric)
            if metric in LOWER_IS_BETTER or metric == "n" or not isinstance(old, (int, float)) or not isinstance(new, (int, float)):
                continue
            if z is not None:
                n = (old_group.get("counts") or {}).get(metric, old_group.get("n", 0))
                bound = wilson_lower(old, n, float(z))
                if new < bound - 1e-9:
                    failures.append(f"{scope} {metric} dropped from {old} to {new}, under {bound:.3f}, the lower "
                                    f"95% bound of the baseline over {n} cases")
            elif old - new > max_drop + 1e-9:
                failures.append(f"{scope} {metric} dropped from {old} to {new} (more than {max_drop} below the baseline)")
    return failures


def write_baseline(path: Path, result: dict) -> None:
    data = {"metrics": result["metrics"], "index_version": result.get("index_version"), "drafter": result.get("drafter"),
            "recorded_at": result.get("finished_at")}
    Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
