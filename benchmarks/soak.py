"""Soak: a steady request rate against a real `copilot serve` on loopback while re-indexes run.

    .venv/bin/python -m benchmarks.soak --minutes 10 --rate 6

Open loop: requests start on a fixed schedule (alternating searches and drafts built from the
176 eval tickets) whether or not earlier ones have returned, as a helpdesk's traffic would.
Every `--reindex-every` seconds one FAQ file of a private copy of the knowledge changes and a
re-index is started through `POST /v1/knowledge/reindex`; every third one is a full rebuild.
A warm-up (`--warmup`, 90 s) of the same traffic, with one full and one incremental re-index,
comes first. Reports errors, p50/p95/p99 per route, the re-indexes completed, and the server's
RSS when ready, after the warm-up, at its peak and at the end: memory growth is measured from
the end of the warm-up. The figures go in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.bench_api import start_server

ROOT = Path(__file__).resolve().parents[1]


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, int(p / 100 * len(s)))] * 1000, 1) if s else 0.0


async def _run(base: str, key: str, minutes: float, rate: float, reindex_every: float, kb: Path, pid: int,
               warmup: float) -> dict:
    import httpx

    from benchmarks.bench_api import rss_mb
    from benchmarks.bench_latency import eval_queries

    queries = [q[:1000] for q in eval_queries()]
    hdr = {"Authorization": f"Bearer {key}"}
    lat: dict[str, list[float]] = {"search": [], "drafts": []}
    errors: list[str] = []
    reindexes = {"started": 0, "completed": 0, "failed": 0, "seconds": []}
    faq = kb / "faq" / "faq_ja.csv"
    original = faq.read_text(encoding="utf-8")
    rss_ready = rss_mb(pid)
    samples = [rss_ready]
    # warm-up: the same traffic, with one full and one incremental re-index, before the measured
    # minutes start; growth is measured from its end (caches, thread pools and the allocators'
    # first peaks are not a leak), and the figures from `ready` are reported beside it
    measure_from = time.perf_counter() + warmup
    rss_start: float | None = None
    stop = measure_from + minutes * 60

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64)) as client:
        async def one(i: int):
            route = "search" if i % 2 == 0 else "drafts"
            q = queries[(i // 2) % len(queries)]
            body = {"query": q, "k": 5} if route == "search" else {"text": q}
            t0 = time.perf_counter()
            try:
                r = await client.post(f"{base}/v1/{route}", json=body, headers=hdr)
                if r.status_code >= 400:
                    errors.append(f"{route} {r.status_code} {r.text[:120]}")
            except httpx.HTTPError as exc:
                errors.append(f"{route} {type(exc).__name__}")
            lat[route].append(time.perf_counter() - t0)

        async def reindexer():
            n = -2 if warmup else 0
            while time.perf_counter() < stop - 30:
                # warm-up: a full rebuild at once, an incremental one 20 s later; then the schedule
                await asyncio.sleep(reindex_every if n >= 0 else (1 if n == -2 else 20))
                n += 1
                full = n % 3 == 0 if n > 0 else n == -1
                faq.write_text(original.replace("660円", f"{660 + n}円") if n % 2 else original, encoding="utf-8")
                r = await client.post(f"{base}/v1/knowledge/reindex", json={"full": full}, headers=hdr)
                if r.status_code != 202:
                    errors.append(f"reindex {r.status_code} {r.text[:120]}")
                    continue
                reindexes["started"] += 1
                job = r.json()
                while True:
                    await asyncio.sleep(1)
                    st = (await client.get(f"{base}/v1/knowledge/status", headers=hdr)).json().get("reindex") or {}
                    if st.get("id") == job.get("id") and st.get("status") in ("succeeded", "failed"):
                        ok = st["status"] == "succeeded"
                        reindexes["completed" if ok else "failed"] += 1
                        if ok and isinstance(st.get("result"), dict):
                            reindexes["seconds"].append(st["result"].get("seconds"))
                        break

        async def sampler():
            nonlocal rss_start
            while time.perf_counter() < stop:
                await asyncio.sleep(15 if rss_start is not None else max(0.0, min(15.0, measure_from - time.perf_counter())))
                samples.append(rss_mb(pid))
                if rss_start is None and time.perf_counter() >= measure_from:
                    rss_start = samples[-1]

        tasks, i = [], 0
        bg = [asyncio.create_task(reindexer()), asyncio.create_task(sampler())]
        start = time.perf_counter()
        while time.perf_counter() < stop:
            tasks.append(asyncio.create_task(one(i)))
            i += 1
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        await asyncio.gather(*tasks)
        for t in bg:
            t.cancel()
        faq.write_text(original, encoding="utf-8")
    return {
        "minutes": minutes, "rate_per_s": rate, "requests": i, "errors": len(errors), "error_samples": errors[:10],
        "search_ms": {"p50": _pct(lat["search"], 50), "p95": _pct(lat["search"], 95), "p99": _pct(lat["search"], 99)},
        "drafts_ms": {"p50": _pct(lat["drafts"], 50), "p95": _pct(lat["drafts"], 95), "p99": _pct(lat["drafts"], 99)},
        "warmup_s": warmup, "reindexes": reindexes, "rss_ready_mb": rss_ready, "rss_start_mb": rss_start,
        "rss_end_mb": samples[-1], "rss_peak_mb": max(samples),
        "rss_growth_pct": round((samples[-1] - rss_start) / rss_start * 100, 1),
        "rss_growth_from_ready_pct": round((samples[-1] - rss_ready) / rss_ready * 100, 1), "rss_samples_mb": samples,
    }


def soak(minutes: float = 10, rate: float = 6, reindex_every: float = 60, warmup: float = 90,
         data_dir: Path = ROOT / "var" / "soak") -> dict:
    """Run one soak against a fresh `copilot serve` over a private copy of the knowledge; the
    result is also written to DATA_DIR/soak.json, the server's log to DATA_DIR/server.log."""
    shutil.rmtree(data_dir, ignore_errors=True)
    kb = data_dir / "kb"
    shutil.copytree(ROOT / "knowledge", kb)
    env = dict(os.environ, COPILOT_DATA_DIR=str(data_dir / "data"), COPILOT_KNOWLEDGE_DIR=str(kb),
               COPILOT_RATE_LIMIT_PER_MINUTE="1000000")
    cli = lambda *args: subprocess.run([sys.executable, "-m", "copilot", *args, "--json"], env=env, capture_output=True, text=True, check=True)  # noqa: E731
    cli("index")
    key = json.loads(cli("keys", "create", "--role", "admin", "--name", "soak").stdout)["key"]
    server_log = open(data_dir / "server.log", "w", encoding="utf-8")  # noqa: SIM115 - open for the server's life
    proc, base = start_server(env, stderr=server_log)
    import httpx

    try:
        for body, route in (({"query": "送料", "k": 5}, "search"), ({"text": "送料はいくらですか"}, "drafts")):
            httpx.post(f"{base}/v1/{route}", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=120)
        r = asyncio.run(_run(base, key, minutes, rate, reindex_every, kb, proc.pid, warmup))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        server_log.close()
    (data_dir / "soak.json").write_text(json.dumps(r, ensure_ascii=False, indent=1), encoding="utf-8")
    return r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--rate", type=float, default=6, help="requests per second, half searches, half drafts")
    ap.add_argument("--reindex-every", type=float, default=60)
    ap.add_argument("--warmup", type=float, default=90, help="seconds of the same traffic (with one full and one "
                    "incremental re-index) before memory growth is measured; 0 measures from ready")
    ap.add_argument("--data-dir", type=Path, default=ROOT / "var" / "soak")
    a = ap.parse_args()
    r = soak(a.minutes, a.rate, a.reindex_every, a.warmup, a.data_dir)
    print(json.dumps({k: v for k, v in r.items() if k != "rss_samples_mb"}, ensure_ascii=False))
    print(f"wrote {a.data_dir / 'soak.json'}")


if __name__ == "__main__":
    main()
