"""REST API under load: requests/s and p95 for POST /v1/search and POST /v1/drafts at several
concurrencies, against a real uvicorn on loopback; GET /healthz is the same-run baseline
(framework and network cost alone). Also the serving process's RSS before and after.

    .venv/bin/python -m benchmarks.bench_api --data-dir var/bench --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def load(url: str, method: str, body: dict | None, headers: dict, concurrency: int, seconds: float) -> dict:
    import httpx

    lat: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    queries = ["E-203が出てWi-Fiにつながりません", "送料はいくらですか", "How do I reset my password?", "延長保証の料金は？",
               "年額プランの返金について", "Can I choose a delivery time slot?"]

    async def worker(i: int, client):
        nonlocal errors
        n = i
        while time.perf_counter() < stop:
            payload = None
            if body is not None:
                payload = {**body, ("query" if "query" in body else "text"): queries[n % len(queries)]}
            t0 = time.perf_counter()
            r = await client.request(method, url, json=payload, headers=headers)
            lat.append(time.perf_counter() - t0)
            if r.status_code >= 400:
                errors += 1
            n += concurrency

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(i, client) for i in range(concurrency)))
        wall = time.perf_counter() - t0
    lat.sort()
    return {"requests": len(lat), "rps": round(len(lat) / wall, 1), "p50_ms": round(lat[len(lat) // 2] * 1000, 1),
            "p95_ms": round(lat[int(len(lat) * 0.95)] * 1000, 1), "errors": errors}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, default=ROOT / "var" / "bench")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--concurrency", default="1,8,32")
    a = ap.parse_args()
    env = dict(os.environ, COPILOT_DATA_DIR=str(a.data_dir), COPILOT_RATE_LIMIT_PER_MINUTE="1000000")
    run = lambda *args: subprocess.run([sys.executable, "-m", "copilot", *args, "--json"], env=env, capture_output=True, text=True, check=True)  # noqa: E731
    run("index")
    key = json.loads(run("keys", "create", "--role", "admin", "--name", "bench").stdout)["key"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "copilot", "serve", "--port", str(port), "--no-ui"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    import httpx

    for _ in range(300):
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    h = {"Authorization": f"Bearer {key}"}
    try:
        for body in ({"query": "送料"}, {"text": "送料はいくらですか"}):  # load the models before measuring memory
            httpx.post(base + ("/v1/search" if "query" in body else "/v1/drafts"), json=body, headers=h, timeout=120)
        before = rss_mb(proc.pid)
        results = {}
        for c in [int(x) for x in a.concurrency.split(",")]:
            for name, method, path, body in (("healthz", "GET", "/healthz", None), ("search", "POST", "/v1/search", {"query": "", "k": 5}),
                                             ("drafts", "POST", "/v1/drafts", {"text": ""})):
                results[f"{name}@{c}"] = r = asyncio.run(load(base + path, method, body, h, c, a.seconds))
                print(f"{name:8s} c={c:<3d} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:7.1f} ms  p95 {r['p95_ms']:7.1f} ms  errors {r['errors']}", flush=True)
        after = rss_mb(proc.pid)
        print(f"server RSS {before} MB before, {after} MB after ({(after - before) / before * 100:+.1f}%)")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
