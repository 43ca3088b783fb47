"""Run every benchmark and rewrite docs/benchmarks.md.

    .venv/bin/python -m benchmarks            # or: make bench  (about 17 minutes on 2 cores)
    .venv/bin/python -m benchmarks --quick    # small sizes, a smoke run (writes var/bench/benchmarks-quick.md)

Each benchmark runs the project and its baseline in the same run and reports the ratio;
absolute times drift between machines, ratios much less.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

from benchmarks import bench_api, bench_embed, bench_index, bench_latency, report

ROOT = Path(__file__).resolve().parents[1]


def machine() -> dict:
    from copilot import Settings
    from copilot import machine as where

    info = where.describe(Settings().embedder_specs())  # CPU model, vector extensions, each embedder's kernel
    mem = next((int(ln.split()[1]) // 1024 // 1024 for ln in Path("/proc/meminfo").read_text().splitlines()
                if ln.startswith("MemTotal")), 0)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {"cpu": info["cpu"], "cores": os.cpu_count(), "memory_gb": mem, "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d"), "commit": commit or "?",
            "vector_extensions": info["vector_extensions"], "embedding_kernels": info["embedding_kernels"]}


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks")
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not figures for the doc")
    ap.add_argument("--data-dir", type=Path, default=ROOT / "var" / "bench")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    q = a.quick
    sizes = {"build": 200 if q else 2000, "baseline": 100 if q else 600, "incremental": 2000 if q else 10000,
             "scales": [2000, 5000] if q else [10000, 100000], "api_s": 3 if q else 8,
             "soak_s": 20 if q else 300, "profile_s": 4 if q else 10, "repeat": 1 if q else 2,
             "embed_texts": 6 if q else 24}
    out = a.out or (a.data_dir / "benchmarks-quick.md" if q else ROOT / "docs" / "benchmarks.md")
    a.data_dir.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": machine(), "sizes": sizes}
    t_all = time.perf_counter()

    def step(name: str, fn):
        t0 = time.perf_counter()
        print(f"== {name}", flush=True)
        results[name] = fn()
        results[name]["_seconds"] = round(time.perf_counter() - t0, 1)
        print(json.dumps(results[name], ensure_ascii=False, default=str)[:2000], flush=True)

    step("embed", lambda: bench_embed.run(sizes["embed_texts"]))
    step("build", lambda: bench_index.run_build(sizes["build"], sizes["baseline"]))
    step("incremental", lambda: bench_index.run_incremental(sizes["incremental"], results["build"]["embed_s_per_chunk"]))
    step("latency_sample", lambda: bench_latency.run(a.data_dir / "sample", sizes["repeat"] + 1))
    for n in sizes["scales"]:
        step(f"latency_{n}", lambda n=n: bench_latency.run_scale(n, a.data_dir, sizes["repeat"]))
    step("api", lambda: bench_api.run(a.data_dir / "sample", sizes["api_s"], (1, 8, 32), sizes["soak_s"], sizes["profile_s"]))
    results["total_s"] = round(time.perf_counter() - t_all, 1)
    (a.data_dir / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report.render(results, quick=q), encoding="utf-8")
    print(f"wrote {out} ({results['total_s']} s in all); raw figures in {a.data_dir / 'results.json'}")


if __name__ == "__main__":
    main()
