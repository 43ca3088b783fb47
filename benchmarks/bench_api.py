"""REST API under load: requests/s and p95 for POST /v1/search and POST /v1/drafts at several
concurrencies, against a real uvicorn on loopback; GET /healthz is the same-run baseline
(framework and network cost alone). Also the serving process's RSS before and after.

    .venv/bin/python -m benchmarks.bench_api --data-dir var/bench --seconds 8 [--soak 300] [--profile 10]
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


async def load(url: str, method: str, body: dict | None, headers: dict, concurrency: int, seconds: float,
               queries: list[str]) -> dict:
    """Closed-loop load: `concurrency` clients, each sending its next request when the last returns.
    Queries cycle through the eval tickets, each made unique by its request number."""
    import httpx

    lat: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def worker(i: int, client):
        nonlocal errors
        n = i
        while time.perf_counter() < stop:
            payload = None
            if body is not None:
                field = "query" if "query" in body else "text"
                # every request's text is new (a request number is appended): the drafter caches
                # query vectors, and a benchmark that repeats tickets would measure that cache
                payload = {**body, field: f"{queries[n % len(queries)][:1000]} (#{n})"}
            t0 = time.perf_counter()
            try:
                r = await client.request(method, url, json=payload, headers=headers)
                if r.status_code >= 400:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            lat.append(time.perf_counter() - t0)
            n += concurrency

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(i, client) for i in range(concurrency)))
        wall = time.perf_counter() - t0
    lat.sort()
    return {"requests": len(lat), "rps": round(len(lat) / wall, 1), "p50_ms": round(lat[len(lat) // 2] * 1000, 1),
            "p95_ms": round(lat[int(len(lat) * 0.95)] * 1000, 1), "errors": errors}


def start_server(env: dict, stderr=subprocess.DEVNULL, extra: tuple[str, ...] = ()) -> tuple[subprocess.Popen, str]:
    """`copilot serve --no-ui` on a free loopback port, waited for until /readyz answers.
    `extra`: more arguments, e.g. ("--workers", "2")."""
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "copilot", "serve", "--port", str(port), "--no-ui", *extra], env=env,
                            stdout=subprocess.DEVNULL, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    proc.wait(timeout=10)
    raise RuntimeError(f"copilot serve did not become ready at {base} (exit code {proc.returncode}); "
                       "run it by hand to see why")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def soak(base: str, headers: dict, seconds: float, pid: int, queries: list[str]) -> dict:
    """Searches and drafts at concurrency 4 + 4 for `seconds`, RSS sampled every 10 s."""
    samples: list[float] = []

    async def sampler():
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            samples.append(rss_mb(pid))
            await asyncio.sleep(10)

    search, drafts, _ = await asyncio.gather(
        load(base + "/v1/search", "POST", {"query": "", "k": 5}, headers, 4, seconds, queries),
        load(base + "/v1/drafts", "POST", {"text": ""}, headers, 4, seconds, queries[::-1]),
        sampler())
    return {"seconds": seconds, "search": search, "drafts": drafts, "rss_samples_mb": samples}


def profile(pid: int, seconds: int, out: Path, idle: bool = False) -> list[tuple[str, float]]:
    """py-spy samples of the server (Python frames, GIL holders and waiters alike); returns the
    top leaf functions by share of samples."""
    import shutil

    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    raw = out.with_suffix(".txt")
    subprocess.run([spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "200", "--format", "raw",
                    "--output", str(raw), "--nonblocking", *(["--idle"] if idle else [])], check=True, capture_output=True)
    leaves: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        leaf = stack.split(";")[-1]
        fn = leaf.split(" (")[0] + " (" + leaf.split(" (")[-1].split(":")[0].split("/")[-1].rstrip(")") + ")"
        leaves[fn] = leaves.get(fn, 0) + int(count)
        total += int(count)
    return [(fn, round(100 * n / total, 1)) for fn, n in sorted(leaves.items(), key=lambda x: -x[1])[:12]]


def run(data_dir: Path, seconds: float = 8, concurrency: tuple[int, ...] = (1, 8, 32), soak_seconds: float = 0,
        profile_seconds: int = 0, profile_route: str = "search") -> dict:
    from benchmarks.bench_latency import eval_queries

    queries = eval_queries()
    env = dict(os.environ, COPILOT_DATA_DIR=str(data_dir), COPILOT_RATE_LIMIT_PER_MINUTE="1000000")
    cli = lambda *args: subprocess.run([sys.executable, "-m", "copilot", *args, "--json"], env=env, capture_output=True, text=True, check=True)  # noqa: E731
    cli("index")
    key = json.loads(cli("keys", "create", "--role", "admin", "--name", "bench").stdout)["key"]
    proc, base = start_server(env)
    import httpx

    h = {"Authorization": f"Bearer {key}"}
    out: dict = {"loads": {}}
    try:
        for body in ({"query": "送料"}, {"text": "送料はいくらですか"}):  # load the models before measuring memory
            httpx.post(base + ("/v1/search" if "query" in body else "/v1/drafts"), json=body, headers=h, timeout=120)
        out["rss_ready_mb"] = rss_mb(proc.pid)
        for c in concurrency:
            for name, method, path, body in (("healthz", "GET", "/healthz", None), ("search", "POST", "/v1/search", {"query": "", "k": 5}),
                                             ("drafts", "POST", "/v1/drafts", {"text": ""})):
                out["loads"][f"{name}@{c}"] = r = asyncio.run(load(base + path, method, body, h, c, seconds, queries))
                print(f"{name:8s} c={c:<3d} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:7.1f} ms  p95 {r['p95_ms']:7.1f} ms  errors {r['errors']}", flush=True)
        if profile_seconds:
            task = asyncio.new_event_loop()
            import threading

            path, body = ("/v1/drafts", {"text": ""}) if profile_route == "drafts" else ("/v1/search", {"query": "", "k": 5})
            th = threading.Thread(target=lambda: task.run_until_complete(
                load(base + path, "POST", body, h, 8, profile_seconds + 2, queries)))
            th.start()
            time.sleep(1)
            key = f"profile_{profile_route}"
            try:
                out[key] = profile(proc.pid, profile_seconds, data_dir / key.replace("_", "-"), bool(os.environ.get("BENCH_IDLE")))
            except (subprocess.CalledProcessError, FileNotFoundError) as exc:
                out[key] = [(f"py-spy failed: {exc}", 0.0)]
            th.join()
        if soak_seconds:
            before = rss_mb(proc.pid)
            out["soak"] = r = asyncio.run(soak(base, h, soak_seconds, proc.pid, queries))
            r["rss_before_mb"], r["rss_after_mb"] = before, rss_mb(proc.pid)
            r["growth_pct"] = round((r["rss_after_mb"] - before) / before * 100, 1)
            print(f"soak {soak_seconds:.0f} s: search {r['search']['rps']}/s p95 {r['search']['p95_ms']} ms, drafts "
                  f"{r['drafts']['rps']}/s p95 {r['drafts']['p95_ms']} ms, errors {r['search']['errors'] + r['drafts']['errors']}; "
                  f"RSS {before} -> {r['rss_after_mb']} MB ({r['growth_pct']:+.1f}%)", flush=True)
        out["rss_end_mb"] = rss_mb(proc.pid)
        out["rss_peak_mb"] = peak_rss_mb(proc.pid)
        print(f"server RSS {out['rss_ready_mb']} MB when ready, {out['rss_end_mb']} MB at the end, peak {out['rss_peak_mb']} MB")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, default=ROOT / "var" / "bench")
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--soak", type=float, default=0, help="seconds of mixed load with memory samples (e.g. 300)")
    ap.add_argument("--profile", type=int, default=0, help="seconds of py-spy sampling under load")
    ap.add_argument("--profile-route", choices=("search", "drafts"), default="search", help="the load profiled")
    a = ap.parse_args()
    r = run(a.data_dir, a.seconds, tuple(int(x) for x in a.concurrency.split(",")), a.soak, a.profile, a.profile_route)
    for fn, share in r.get(f"profile_{a.profile_route}", []):
        print(f"  {share:5.1f}%  {fn}")


if __name__ == "__main__":
    main()
