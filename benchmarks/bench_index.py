"""Index build and incremental re-index.

    .venv/bin/python -m benchmarks.bench_index --chunks 2000 --incremental 10000

1. Full build: chunks per second on a synthetic corpus grown from the sample FAQ, with real
   embeddings (nothing comes from the cache), time per stage. The baseline is LangChain's Chroma
   vector store fed the same chunk texts with the same primary embedder in one `add_texts`
   call, over the first `--baseline-chunks` chunks of the same corpus: its cost is the
   embedder's, linear in the number of chunks, so chunks/s compare across the two sizes.
2. Incremental re-index in a larger index (`--incremental`, seeded vectors, see
   benchmarks/scale.py): change one entry, then delete one. Reported against the same index's
   build from the cache (a lower bound for any full rebuild) and against the full rebuild
   with embeddings, projected from the per-chunk embedding cost measured in 1.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.scale import build_seeded, write_corpus


class StageClock:
    """Seconds per indexer stage, from the indexer's progress callback."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = []

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.marks or self.marks[-1][0] != stage:
            self.marks.append((stage, time.perf_counter()))

    def stages(self) -> dict[str, float]:
        marks = [*self.marks, ("end", time.perf_counter())]
        out: dict[str, float] = {}
        for (name, start), (_, end) in zip(marks, marks[1:]):
            if name != "done":
                out[name] = round(out.get(name, 0.0) + end - start, 2)
        return out


def run_build(n: int, baseline_n: int) -> dict:
    from langchain_chroma import Chroma

    from benchmarks.bench_latency import LcEmbeddings
    from copilot import Copilot, Settings

    with tempfile.TemporaryDirectory(prefix="copilot-bench-") as tmp:
        kb = Path(tmp) / "kb"
        write_corpus(kb, n)
        c = Copilot(Settings(data_dir=Path(tmp) / "data", knowledge_dir=kb))
        c.warm_up()
        clock = StageClock()
        t0 = time.perf_counter()
        rep = c.index(progress=clock)
        total = time.perf_counter() - t0
        stages = clock.stages()
        texts = [ch.embed_text for ch in c.retriever.snapshot().chunks.values()][:baseline_n]
        base = Chroma(client=c.chroma, collection_name="bench-baseline", embedding_function=LcEmbeddings(c.embedders[0]))
        t0 = time.perf_counter()
        base.add_texts(texts)
        base_s = time.perf_counter() - t0
    embed_s = sum(v for k, v in stages.items() if k.startswith("embed:"))
    return {"chunks": rep.chunks, "embedded": rep.embedded, "seconds": round(total, 2),
            "chunks_per_s": round(rep.chunks / total, 2), "stages_s": stages,
            "embed_s_per_chunk": round(embed_s / rep.chunks, 4),
            "baseline_chunks": len(texts), "baseline_seconds": round(base_s, 2),
            "baseline_chunks_per_s": round(len(texts) / base_s, 2),
            "ratio": round((rep.chunks / total) / (len(texts) / base_s), 2)}


def run_incremental(n: int, embed_s_per_chunk: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="copilot-bench-inc-") as tmp:
        clock = StageClock()
        c, kb, info = build_seeded(Path(tmp), n, progress=clock)
        cached_build = info["build_s"]
        stages = clock.stages()
        target = kb / "faq" / "synthetic_0000.csv"
        lines = target.read_text(encoding="utf-8").splitlines()
        lines[1] = lines[1].replace("(#0)", "(#0 revised)", 1)  # no comma: the row stays valid CSV
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
        t0 = time.perf_counter()
        changed = c.index()
        change_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        c.retriever.snapshot()  # what a serving process adds: loading the new version for searches
        swap_s = time.perf_counter() - t0
        target.write_text("\n".join(lines[:2] + lines[3:]) + "\n", encoding="utf-8")
        t0 = time.perf_counter()
        deleted = c.index()
        delete_s = time.perf_counter() - t0
        hits = c.search("E-203が出てWi-Fiにつながりません", 3)
    projected_full = cached_build + n * embed_s_per_chunk
    return {"chunks": n, "cached_build_s": cached_build, "cached_build_stages_s": stages,
            "projected_full_s": round(projected_full, 1),
            "change_s": round(change_s, 3), "swap_s": round(swap_s, 3), "change_embedded": changed.embedded, "change_updated": changed.updated,
            "delete_s": round(delete_s, 3), "delete_embedded": deleted.embedded, "delete_removed": deleted.removed,
            "change_vs_full": round(projected_full / change_s, 1),
            "change_vs_cached_build": round(cached_build / change_s, 1),
            "search_after": len(hits)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=2000)
    ap.add_argument("--baseline-chunks", type=int, default=600)
    ap.add_argument("--incremental", type=int, default=10000)
    a = ap.parse_args()
    b = run_build(a.chunks, a.baseline_chunks)
    print(f"full build: {b['chunks']} chunks in {b['seconds']} s = {b['chunks_per_s']} chunks/s; "
          f"baseline {b['baseline_chunks_per_s']} chunks/s over {b['baseline_chunks']} chunks; ratio {b['ratio']}x")
    print("stages (s): " + ", ".join(f"{k} {v}" for k, v in b["stages_s"].items()))
    r = run_incremental(a.incremental, b["embed_s_per_chunk"])
    print(f"incremental in {r['chunks']} chunks: change one {r['change_s']} s ({r['change_embedded']} embedded, "
          f"{r['change_vs_full']}x faster than the projected full rebuild of {r['projected_full_s']} s, "
          f"{r['change_vs_cached_build']}x faster than the build from cache); delete one {r['delete_s']} s "
          f"({r['delete_embedded']} embedded, {r['delete_removed']} removed)")


if __name__ == "__main__":
    main()
