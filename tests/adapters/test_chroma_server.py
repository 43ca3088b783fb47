"""The scale-out path: the same index and search against a real `chroma run` on loopback."""

import pytest

from conftest import _free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_index_and_search_through_chroma_server(tmp_path, small_kb, chroma_server):
    from conftest import make_settings

    from copilot import Copilot

    c = Copilot(make_settings(tmp_path / "data", small_kb, secondary_embedder="", chroma_url=chroma_server))
    rep = c.index()
    assert rep.chunks >= 4
    assert not (tmp_path / "data" / "index" / "chroma").exists()  # vectors live in the server
    top = c.search("E-203が表示される", k=1)[0]
    assert "E-203" in top.chunk.text
    assert c.status()["vector_store"] == chroma_server
    assert c.check_index()["canary"] == "ok"
    # a second process (fresh client) sees the same collection through the server
    c2 = Copilot(make_settings(tmp_path / "data", small_kb, secondary_embedder="", chroma_url=chroma_server))
    assert c2.search("How do I cancel my subscription?", k=1)[0].chunk.doc_id == "s-003"


def test_unreachable_server_is_a_clear_error(tmp_path, small_kb):
    from conftest import make_settings

    from copilot import Copilot, IndexUnavailable

    c = Copilot(make_settings(tmp_path / "data", small_kb, secondary_embedder="", chroma_url=f"http://127.0.0.1:{_free_port()}"))
    with pytest.raises(IndexUnavailable, match="Chroma server"):
        c.index()
