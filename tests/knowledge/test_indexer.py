"""Incremental re-index, counted at the embedder, on real e5-onnx + Chroma in a temp dir."""

import json

import pytest

pytestmark = pytest.mark.integration


def _faq(kb):
    return kb / "faq" / "faq.csv"


def test_first_index_embeds_every_chunk_once(counting_copilot):
    rep = counting_copilot.index()
    assert (rep.added, rep.updated, rep.removed, rep.unchanged) == (4, 0, 0, 0)
    assert rep.chunks == counting_copilot.counter.documents_embedded == rep.embedded
    assert counting_copilot.status()["chunks"] == rep.chunks


def test_reindex_without_changes_is_a_no_op(counting_copilot):
    first = counting_copilot.index()
    before = counting_copilot.counter.documents_embedded
    second = counting_copilot.index()
    assert counting_copilot.counter.documents_embedded == before
    assert (second.unchanged, second.embedded, second.version) == (4, 0, first.version)


def test_changing_one_entry_embeds_only_its_chunk(counting_copilot, small_kb):
    counting_copilot.index()
    before = counting_copilot.counter.documents_embedded
    p = _faq(small_kb)
    p.write_text(p.read_text(encoding="utf-8").replace("660円", "770円"), encoding="utf-8")
    rep = counting_copilot.index()
    assert (rep.added, rep.updated, rep.removed, rep.unchanged) == (0, 1, 0, 3)
    assert counting_copilot.counter.documents_embedded - before == 1 == rep.embedded
    top = counting_copilot.search("送料はいくら", k=1)[0]
    assert "770円" in top.chunk.text


def test_deleting_a_file_removes_its_chunks(counting_copilot, small_kb):
    first = counting_copilot.index()
    manual_ids = {cid for d, e in counting_copilot.layout.read_manifest()["documents"].items() if d == "manuals/setup.md" for cid in e["chunks"]}
    (small_kb / "manuals" / "setup.md").unlink()
    rep = counting_copilot.index()
    assert (rep.removed, rep.embedded) == (1, 0) and rep.chunks == first.chunks - len(manual_ids)
    hits = counting_copilot.search("E-203 Wi-Fi", k=10)
    assert not {h.chunk.chunk_id for h in hits} & manual_ids
    assert all(h.chunk.source != "manuals/setup.md" for h in hits)
    # after one more version the stale vectors are garbage-collected from Chroma as well
    (small_kb / "faq" / "extra.csv").write_text("id,question,answer\nx1,新しい質問,新しい回答です。\n", encoding="utf-8")
    counting_copilot.index()
    col = counting_copilot.retriever.snapshot().collections["e5-onnx"]
    assert not col.ids() & manual_ids


def test_moved_text_is_not_embedded_again(counting_copilot, small_kb):
    counting_copilot.index()
    before = counting_copilot.counter.documents_embedded
    (small_kb / "manuals" / "setup.md").rename(small_kb / "manuals" / "setup-v2.md")
    rep = counting_copilot.index()
    assert (rep.added, rep.removed) == (1, 1)
    assert counting_copilot.counter.documents_embedded == before  # same text: vectors from the cache


def test_full_rebuild_re_embeds_everything(counting_copilot):
    first = counting_copilot.index()
    before = counting_copilot.counter.documents_embedded
    rep = counting_copilot.index(full=True)
    assert counting_copilot.counter.documents_embedded - before == first.chunks
    assert rep.version != first.version and rep.chunks == first.chunks
    assert counting_copilot.check_index()["canary"] == "ok"


def test_a_broken_file_keeps_its_previous_version(counting_copilot, small_kb):
    counting_copilot.index()
    _faq(small_kb).write_bytes("id,question,answer\nq,壊れた,ファイル\n".encode("cp932"))
    rep = counting_copilot.index()
    assert rep.errors and rep.errors[0].path == "faq/faq.csv" and "UTF-8" in rep.errors[0].reason
    assert rep.removed == 0
    assert "660円" in counting_copilot.search("送料はいくら", k=1)[0].chunk.text


def test_a_broken_file_keeps_its_previous_version_through_a_full_rebuild(counting_copilot, small_kb):
    counting_copilot.index()
    _faq(small_kb).write_bytes("id,question,answer\nq,壊れた,ファイル\n".encode("cp932"))
    rep = counting_copilot.index(full=True)
    assert rep.errors and rep.removed == 0 and rep.unchanged >= 3
    assert "660円" in counting_copilot.search("送料はいくら", k=1)[0].chunk.text


def test_a_full_rebuild_leaves_the_served_version_queryable(counting_copilot):
    """Searches in flight hold the version served when they started; a full rebuild writes new
    collections and must not drop the served ones under them (seen in a soak: 2 of 3,600
    requests failed with Chroma's 'collection does not exist' right after a full rebuild)."""
    counting_copilot.index()
    old = counting_copilot.retriever.snapshot()
    vec = counting_copilot.counter.embed_query("送料はいくら")
    rep = counting_copilot.index(full=True)
    assert rep.version != old.version and counting_copilot.retriever.snapshot().version == rep.version
    for col in old.collections.values():  # raised chromadb NotFoundError before the fix
        assert [cid for cid, _ in col.query(vec, 3)][0] in old.active
    # and the next run collects it: only the current and the previous version's collections stay
    counting_copilot.index(full=True)
    with pytest.raises(Exception, match="does not exist"):
        next(iter(old.collections.values())).query(vec, 3)


def test_manifest_records_versions_and_hashes(counting_copilot):
    rep = counting_copilot.index()
    m = counting_copilot.layout.read_manifest()
    assert m["version"] == rep.version and m["primary"] == "e5-onnx"
    entry = m["documents"]["s-001"]
    assert entry["source"] == "faq/faq.csv" and len(entry["version"]) == 16 and len(entry["chunks"]) == 1
    assert json.loads((counting_copilot.layout.current).read_text().strip().join('""')) == rep.version


def test_empty_knowledge_folder_is_bad_input(tmp_path):
    from conftest import make_settings

    from copilot import Copilot, InputError

    (tmp_path / "kb").mkdir()
    c = Copilot(make_settings(tmp_path / "d", tmp_path / "kb", secondary_embedder=""))
    with pytest.raises(InputError, match="no loadable documents"):
        c.index()


def _add_phrasings(kb, entry_id, phrasings):
    p = _faq(kb)
    lines = p.read_text(encoding="utf-8").splitlines()
    out = [lines[0] + ",phrasings"]
    for line in lines[1:]:
        out.append(line + "," + ("|".join(phrasings) if line.startswith(entry_id + ",") else ""))
    p.write_text("\n".join(out) + "\n", encoding="utf-8")


def test_a_phrasing_is_searched_but_never_quoted(counting_copilot, small_kb):
    counting_copilot.index()
    query = "合言葉がわからなくなりました"
    before = next(h for h in counting_copilot.search(query, k=5) if h.chunk.doc_id == "s-001")
    assert "lexical" not in before.ranks  # no word in common with the entry as written
    before_embedded = counting_copilot.counter.documents_embedded
    _add_phrasings(small_kb, "s-001", ["合言葉 わからない", "ろぐいん できない"])
    rep = counting_copilot.index()
    # only the entry whose phrasings changed is embedded again
    assert (rep.updated, rep.unchanged) == (1, 3) and counting_copilot.counter.documents_embedded - before_embedded == 1
    top = counting_copilot.search(query, k=5)[0]
    assert top.chunk.doc_id == "s-001" and top.ranks.get("lexical") == 1 and top.score > before.score
    assert "合言葉" not in top.chunk.text and top.chunk.phrasings == ["合言葉 わからない", "ろぐいん できない"]
    draft = counting_copilot.draft("ログインの合言葉がわからなくなりました。再設定できますか？")
    assert "再設定メール" in draft.reply and "合言葉 わから" not in draft.reply and "ろぐいん" not in draft.reply


def test_coverage_counts_what_the_knowledge_states_not_its_phrasings(counting_copilot, small_kb):
    _add_phrasings(small_kb, "s-001", ["合言葉 わからない"])
    counting_copilot.index()
    snap = counting_copilot.retriever.snapshot()
    assert "合い言葉" in snap.lexical._model.vocab_dict  # searchable ...
    assert snap.coverage("合言葉")[0] == 0.0  # ... but not something the knowledge base says
    assert snap.coverage("パスワード")[0] == 1.0


def test_a_catalog_from_before_phrasings_is_upgraded_in_place(tmp_path):
    import sqlite3

    from copilot.knowledge.catalog import Catalog

    path = tmp_path / "catalog.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE chunks (chunk_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL, source TEXT NOT NULL, "
                     "doc_type TEXT NOT NULL, title TEXT NOT NULL, section TEXT NOT NULL, lang TEXT NOT NULL, "
                     "text TEXT NOT NULL, tags TEXT NOT NULL, url TEXT, tokens TEXT NOT NULL)")
        conn.execute("INSERT INTO chunks VALUES ('c1','d1','faq/a.csv','faq','Q','Q','ja','Q\nA','[]',NULL,'[\"a\"]')")
    cat = Catalog(path)
    chunk, tokens = cat.get_chunks(["c1"])["c1"]
    assert chunk.phrasings == [] and tokens == ["a"] and chunk.text == "Q\nA"
    assert cat.get_tokens(["c1"]) == ({"c1": ["a"]}, {})  # no phrasings: no separate stated tokens
    Catalog(path)  # a second open (another process) finds the column there already


def test_the_glossary_vote_reads_what_articles_state_not_their_phrasings(counting_copilot, small_kb):
    """An English question's glossary terms vote for Japanese articles that state them; a
    customer's phrasing on an entry that does not is no reason to rank it (docs/retrieval-quality.md)."""
    (small_kb / "glossary").mkdir()
    (small_kb / "glossary" / "terms.csv").write_text("en,ja\nshipping fee,送料\nforgot password,パスワード再設定\n", encoding="utf-8")
    _add_phrasings(small_kb, "s-001", ["送料って何？"])  # a misleading phrasing: s-001 is about passwords
    counting_copilot.index()
    hits = {h.chunk.doc_id: h for h in counting_copilot.search("How much is the shipping fee?", k=4)}
    assert "lexical:xlang" in hits["s-002"].ranks  # the shipping entry states 送料
    assert "s-001" not in hits or "lexical:xlang" not in hits["s-001"].ranks
    # the phrasing still counts for Japanese questions, through the lexical index
    ja = {h.chunk.doc_id: h for h in counting_copilot.search("送料って何？", k=4)}
    assert "lexical" in ja["s-001"].ranks


def test_unchanged_phrased_entries_are_not_tokenized_again(counting_copilot, small_kb, monkeypatch):
    """The stated-text tokens of an FAQ entry with phrasings are stored with the chunk; a
    re-index that changes something else does not tokenize the entry again."""
    from copilot.knowledge import indexer

    _add_phrasings(small_kb, "s-001", ["合言葉 わからない"])
    counting_copilot.index()
    seen: list[str] = []
    real = indexer.lexical_tokens
    monkeypatch.setattr(indexer, "lexical_tokens", lambda text: seen.append(text) or real(text))
    manual = small_kb / "manuals" / "setup.md"
    manual.write_text(manual.read_text(encoding="utf-8") + "\n## 付録\n再起動するとランプが消えます。\n", encoding="utf-8")
    rep = counting_copilot.index()
    assert rep.updated == 1 and seen and not any("パスワード" in t or "合言葉" in t for t in seen)
    snap = counting_copilot.retriever.snapshot()
    assert snap.coverage("合言葉")[0] == 0.0 and "合い言葉" in snap.lexical._model.vocab_dict


def test_a_manual_sections_phrasings_reembed_only_that_section(counting_copilot, small_kb):
    """Phrasings in knowledge/phrasings/ reach a manual section's chunks: searched, never
    quoted; changing them re-embeds that section's chunks and nothing else."""
    counting_copilot.index()
    query = "ぴかぴか光ってる、このあと何すればいい"
    before = next(h for h in counting_copilot.search(query, k=5) if h.chunk.section == "電源を入れる")
    embedded = counting_copilot.counter.documents_embedded
    (small_kb / "phrasings").mkdir()
    (small_kb / "phrasings" / "manuals.yaml").write_text(
        "manuals/setup.md:\n  電源を入れる:\n    - ランプがぴかぴか光ってる、このあと何すればいい？\n", encoding="utf-8")
    rep = counting_copilot.index()
    assert (rep.updated, rep.unchanged) == (1, 3) and counting_copilot.counter.documents_embedded - embedded == 1
    top = counting_copilot.search(query, k=5)[0]
    assert top.chunk.section == "電源を入れる" and top.score > before.score
    assert top.chunk.phrasings == ["ランプがぴかぴか光ってる、このあと何すればいい？"] and "ぴかぴか" not in top.chunk.text
    other = next(h for h in counting_copilot.search("E-203", k=5) if h.chunk.section == "エラーコード")
    assert other.chunk.phrasings == []
