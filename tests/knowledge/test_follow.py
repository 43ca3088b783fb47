"""One index, many processes (issue 16): serving processes follow the version another process
publishes, a version in use is never collected, a version that cannot be loaded leaves the
previous one serving and /readyz says so.

The load test (`reliability` marker, run by `make reliability`): `copilot serve --workers 2`
under steady searches and drafts while a CLI `copilot index` adds a FAQ entry; no request
fails, /readyz answers 200 throughout, and both workers serve the new entry within 20 s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from conftest import ROOT, make_settings

pytestmark = [pytest.mark.integration]

NEW_ROW = 'faq-ja-900,ZQX-7731 アダプターの返却先,"ZQX-7731 アダプターは、お近くの回収ボックスではなく本社サポートセンターへ着払いでご返送ください。",returns,ja,,\n'


def _index(c):
    rep = c.index()
    assert rep.version
    return rep.version


def test_a_version_in_use_is_kept_until_its_process_is_gone(tmp_path, small_kb):
    """A lease keeps a version's directory, chunks and vectors through later re-indexes; when
    the process holding it dies (kill -9: no clean-up), the next re-index collects it."""
    from copilot import Copilot

    c = Copilot(make_settings(tmp_path / "data", small_kb, secondary_embedder=""))
    v1 = _index(c)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        leases = c.layout.leases
        leases.root.mkdir(parents=True, exist_ok=True)
        (leases.root / f"{leases.host}-{holder.pid}.json").write_text(
            json.dumps({"version": v1, "pid": holder.pid, "host": leases.host, "heartbeat": time.time()}))
        faq = small_kb / "faq" / "faq.csv"
        for n in (1, 2):  # two more versions: without the lease v1 would be collected by the second
            faq.write_text(faq.read_text(encoding="utf-8").replace(f"{659 + n}円", f"{660 + n}円"), encoding="utf-8")
            _index(c)
        assert c.layout.version_dir(v1).exists()
        old = c.layout.read_manifest(v1)
        v1_ids = {cid for d in old["documents"].values() for cid in d["chunks"]}
        assert v1_ids <= c.catalog.known_chunk_ids(v1_ids)  # its chunk rows are still there
    finally:
        holder.kill()
        holder.wait()
    faq.write_text(faq.read_text(encoding="utf-8").replace("662円", "663円"), encoding="utf-8")
    assert _index(c) == c.layout.current_version()
    assert not c.layout.version_dir(v1).exists()
    assert not list(c.layout.leases.root.glob("*.json"))  # the dead lease is gone too


def test_an_unloadable_version_leaves_the_previous_one_serving_and_not_ready(tmp_path, small_kb):
    from copilot import Copilot
    from copilot.errors import IndexUnavailable

    writer = Copilot(make_settings(tmp_path / "data", small_kb, secondary_embedder=""))
    server = Copilot(make_settings(tmp_path / "data", small_kb, secondary_embedder=""))
    server.retriever.leases = True
    v1 = _index(writer)
    assert server.check_index()["index_version"] == v1
    faq = small_kb / "faq" / "faq.csv"
    faq.write_text(faq.read_text(encoding="utf-8") + NEW_ROW.replace("faq-ja-900", "s-900").replace(",,\n", ",\n"), encoding="utf-8")
    v2 = _index(writer)
    shutil.rmtree(writer.layout.version_dir(v2) / "lexical")  # published, but broken
    assert server.search("送料はいくら", k=1)[0].chunk.doc_id == "s-002"  # still answers, from v1
    assert server.retriever.snapshot().version == v1
    with pytest.raises(IndexUnavailable, match=f"serving index version {v1}.*{v2} cannot be loaded"):
        server.check_index()
    faq.write_text(faq.read_text(encoding="utf-8").replace("ZQX-7731 アダプターは", "ZQX-7731 のアダプターは"), encoding="utf-8")
    v3 = _index(writer)  # a new version is tried at once (the retry pause is for the same broken version)
    assert server.check_index()["index_version"] == v3
    assert server.search("ZQX-7731 の返却先", k=1)[0].chunk.doc_id == "s-900"


def test_a_host_that_cannot_follow_its_cluster_is_stale_after_a_while(tmp_path, small_kb, monkeypatch):
    """Cluster mode: when the shared database stops answering, the host keeps serving what it
    has, and /readyz turns 503 once that has lasted STALE_AFTER_S."""
    from copilot import Copilot, service
    from copilot.errors import IndexUnavailable

    c = Copilot(make_settings(tmp_path / "data", small_kb, secondary_embedder=""))
    v1 = _index(c)

    def unreachable():
        raise ConnectionError("connection refused")

    c.retriever.sync = unreachable
    c.retriever.follow()
    assert c.check_index()["index_version"] == v1  # a blip: still ready
    assert c.search("送料はいくら", k=1)[0].chunk.doc_id == "s-002"
    monkeypatch.setattr(service, "STALE_AFTER_S", 0.0)
    time.sleep(0.01)
    c.retriever.follow()
    with pytest.raises(IndexUnavailable, match="cannot be followed .*connection refused"):
        c.check_index()
    c.retriever.sync = lambda: v1  # the database is back
    c.retriever.follow()
    assert c.check_index()["index_version"] == v1


def test_a_serving_process_never_reads_the_vector_store(tmp_path, small_kb, monkeypatch):
    """Small versions are searched from the vectors published with them: a process that
    serves never opens Chroma, whose embedded client would keep a stale view of another
    process's writes (the "Error finding id" of issue 16)."""
    from copilot import Copilot

    _index(Copilot(make_settings(tmp_path / "data", small_kb, secondary_embedder="")))
    server = Copilot(make_settings(tmp_path / "data", small_kb, secondary_embedder=""))

    def no_store(*a, **k):
        raise AssertionError("the serving path opened the vector store")

    monkeypatch.setattr("copilot.adapters.chroma.make_client", no_store)
    assert server.search("送料はいくら", k=1)[0].chunk.doc_id == "s-002"
    server.draft("送料はいくらですか", persist=False)
    snap = server.retriever.snapshot()
    snap.check_canary()
    assert set(snap.exact) == {"e5-onnx"}


@pytest.mark.slow
@pytest.mark.reliability
def test_workers_follow_a_cli_reindex_under_load(tmp_path):
    import httpx

    sys.path.insert(0, str(ROOT))
    from benchmarks.bench_api import start_server

    kb = tmp_path / "kb"
    shutil.copytree(ROOT / "knowledge", kb)
    env = dict(os.environ, COPILOT_DATA_DIR=str(tmp_path / "data"), COPILOT_KNOWLEDGE_DIR=str(kb),
               COPILOT_RATE_LIMIT_PER_MINUTE="1000000")
    cli = lambda *a: subprocess.run([sys.executable, "-m", "copilot", *a, "--json"], env=env, capture_output=True,  # noqa: E731
                                    text=True, timeout=600)
    assert cli("index").returncode == 0
    key = json.loads(cli("keys", "create", "--role", "admin", "--name", "follow").stdout)["key"]
    log = open(tmp_path / "server.log", "w", encoding="utf-8")  # noqa: SIM115
    proc, base = start_server(env, stderr=log, extra=("--workers", "2"))
    hdr = {"Authorization": f"Bearer {key}"}
    stop = threading.Event()
    failures: list[str] = []
    counts = {"requests": 0, "ready_checks": 0}
    tickets = ["送料はいくらですか", "パスワードを忘れました", "How do I cancel my subscription?", "E-203 が出ます"]

    def load(i: int) -> None:
        with httpx.Client(timeout=60) as client:
            n = i
            while not stop.is_set():
                route, body = (("search", {"query": tickets[n % 4], "k": 5}) if n % 2 else ("drafts", {"text": tickets[n % 4]}))
                try:
                    r = client.post(f"{base}/v1/{route}", json=body, headers=hdr)
                    if r.status_code >= 400:
                        failures.append(f"{route} {r.status_code} {r.text[:200]}")
                except httpx.HTTPError as exc:
                    failures.append(f"{route} {type(exc).__name__}: {exc}")
                counts["requests"] += 1
                n += 4

    def ready() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                r = client.get(f"{base}/readyz")
                counts["ready_checks"] += 1
                if r.status_code != 200:
                    failures.append(f"readyz {r.status_code} {r.text[:200]}")
                time.sleep(0.2)

    threads = [threading.Thread(target=load, args=(i,)) for i in range(4)] + [threading.Thread(target=ready)]
    try:
        for t in threads:
            t.start()
        time.sleep(3)
        faq = kb / "faq" / "faq_ja.csv"
        faq.write_text(faq.read_text(encoding="utf-8") + NEW_ROW, encoding="utf-8")
        rep = cli("index")
        assert rep.returncode == 0, rep.stderr[-2000:]
        assert json.loads(rep.stdout)["added"] == 1
        published = time.monotonic()
        seen, waited = 0, 0.0
        with httpx.Client(timeout=30) as client:
            while seen < 12 and waited < 20:  # 12 answers in a row: both workers serve it
                top = client.post(f"{base}/v1/search", json={"query": "ZQX-7731 アダプターの返却先", "k": 1}, headers=hdr).json()
                seen = seen + 1 if top["results"] and top["results"][0]["doc_id"] == "faq-ja-900" else 0
                waited = time.monotonic() - published
        time.sleep(3)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    print(f"\nfollow: {counts['requests']} requests, {counts['ready_checks']} readyz checks, new entry served by "
          f"every worker {waited:.1f} s after the CLI re-index returned, failures {len(failures)}")
    assert failures == [], failures[:5]
    assert seen >= 12, f"the new entry was not served consistently within 20 s (server log: {tmp_path / 'server.log'})"
    assert counts["requests"] > 50 and counts["ready_checks"] > 20
