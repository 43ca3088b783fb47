"""Index versions published in PostgreSQL, for API hosts that share no filesystem.

Vectors live in a Chroma server (COPILOT_CHROMA_URL) that every host reaches; drafts, customers
and the audit in PostgreSQL (COPILOT_DATABASE_URL). What else an index version holds (manifest,
BM25 indexes, glossary, the version's vector files, and its chunk rows with their lexical
tokens) is written by the host that built it, under its own data dir, and then published here
as one compressed bundle, with the pointer to the current version, in one transaction. Every
host's follower (the API's background thread) sees the pointer move within a second, pulls the
bundle into its own data dir and serves it. Why PostgreSQL and not object storage: it is
already the shared database of this setup (nothing more to run or to secure), a version and
its pointer change atomically in one transaction, and an advisory lock gives the one-re-index-
at-a-time rule across hosts for free. A bundle is a few MB for thousands of chunks.

Tables (created on first use): copilot_index_versions (version, created, bundle),
copilot_index_current (the pointer), copilot_index_leases (host, pid, version, heartbeat).
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import socket
import tarfile
import time
from contextlib import contextmanager

from ..errors import IndexBusy, IndexUnavailable
from .catalog import Catalog
from .versions import Layout

log = logging.getLogger(__name__)

LOCK_KEY = 0x636F70696C6F74  # pg advisory lock id: one re-index at a time across the cluster
KEEP_BUNDLES = 2  # the current version and the one before it, plus any a live host still serves

_DDL = (
    "CREATE TABLE IF NOT EXISTS copilot_index_versions (version TEXT PRIMARY KEY, created DOUBLE PRECISION NOT NULL, "
    "bundle BYTEA NOT NULL)",
    "CREATE TABLE IF NOT EXISTS copilot_index_current (id INTEGER PRIMARY KEY, version TEXT NOT NULL, "
    "published DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE IF NOT EXISTS copilot_index_leases (host TEXT NOT NULL, pid INTEGER NOT NULL, version TEXT NOT NULL, "
    "heartbeat DOUBLE PRECISION NOT NULL, PRIMARY KEY (host, pid))",
)


class ClusterLeases:
    """The same contract as versions.Leases, kept in PostgreSQL so every host sees them."""

    HEARTBEAT_S = 5.0
    TTL_S = 60.0

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.host = socket.gethostname()

    def hold(self, version: str) -> None:
        self.cluster.execute(
            "INSERT INTO copilot_index_leases (host, pid, version, heartbeat) VALUES (:h, :p, :v, :t) "
            "ON CONFLICT (host, pid) DO UPDATE SET version = :v, heartbeat = :t",
            h=self.host, p=os.getpid(), v=version, t=time.time())

    def release(self) -> None:
        self.cluster.execute("DELETE FROM copilot_index_leases WHERE host = :h AND pid = :p", h=self.host, p=os.getpid())

    def live_versions(self) -> set[str]:
        cutoff = time.time() - self.TTL_S
        self.cluster.execute("DELETE FROM copilot_index_leases WHERE heartbeat < :c", c=cutoff)
        return {r[0] for r in self.cluster.query("SELECT DISTINCT version FROM copilot_index_leases")}


class Cluster:
    def __init__(self, url: str, layout: Layout, catalog: Catalog) -> None:
        from sqlalchemy import create_engine

        if not url.startswith("postgresql"):
            raise IndexUnavailable(f"COPILOT_CLUSTER_URL must be a PostgreSQL URL, not {url.split(':', 1)[0]!r}")
        self.engine = create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=2)
        self.layout = layout
        self.catalog = catalog
        self.leases = ClusterLeases(self)
        try:
            with self.engine.begin() as conn:
                from sqlalchemy import text

                for ddl in _DDL:
                    conn.execute(text(ddl))
        except Exception as exc:
            raise IndexUnavailable(f"cannot reach the cluster database: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from exc

    # -- plumbing
    def execute(self, sql: str, **params) -> None:
        from sqlalchemy import text

        with self.engine.begin() as conn:
            conn.execute(text(sql), params)

    def query(self, sql: str, **params) -> list[tuple]:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]

    # -- the one-writer rule
    @contextmanager
    def lock(self):
        """Held for a whole re-index: a second host's re-index is refused while it runs. A
        session-level advisory lock: it goes with the connection if the holder dies."""
        from sqlalchemy import text

        conn = self.engine.connect()
        try:
            if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar():
                raise IndexBusy("another host is re-indexing this cluster's knowledge; wait for it to finish")
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                conn.commit()
        finally:
            conn.close()

    # -- publishing and following
    def current(self) -> str | None:
        rows = self.query("SELECT version FROM copilot_index_current WHERE id = 1")
        return rows[0][0] if rows else None

    def publish(self, version: str) -> None:
        """Bundle the local version `version` and make it the cluster's current one."""
        manifest = self.layout.read_manifest(version)
        ids = [cid for d in manifest["documents"].values() for cid in d["chunks"]]
        rows = self.catalog.get_chunks(ids, tokens=True)
        _tokens, stated = self.catalog.get_tokens(ids)
        chunks = [{**rows[c][0].to_dict(), "_tokens": rows[c][1], "_stated": stated.get(c)} for c in ids]
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            tar.add(self.layout.version_dir(version), arcname=version)
            data = json.dumps(chunks, ensure_ascii=False).encode("utf-8")
            info = tarfile.TarInfo(f"{version}.chunks.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        from sqlalchemy import text

        with self.engine.begin() as conn:  # the bundle and the pointer move together
            conn.execute(text("INSERT INTO copilot_index_versions (version, created, bundle) VALUES (:v, :t, :b) "
                              "ON CONFLICT (version) DO NOTHING"), {"v": version, "t": time.time(), "b": buf.getvalue()})
            conn.execute(text("INSERT INTO copilot_index_current (id, version, published) VALUES (1, :v, :t) "
                              "ON CONFLICT (id) DO UPDATE SET version = :v, published = :t"), {"v": version, "t": time.time()})
        log.info("published index version %s to the cluster (%d KB)", version, len(buf.getvalue()) // 1024)
        self._prune_bundles()

    def _prune_bundles(self) -> None:
        keep = {r[0] for r in self.query("SELECT version FROM copilot_index_versions ORDER BY created DESC LIMIT :n", n=KEEP_BUNDLES)}
        keep |= self.leases.live_versions()
        for (v,) in self.query("SELECT version FROM copilot_index_versions"):
            if v not in keep:
                self.execute("DELETE FROM copilot_index_versions WHERE version = :v", v=v)

    def sync(self) -> str | None:
        """Make this host serve the cluster's current version: pull its bundle if this data dir
        lacks it, then point the local CURRENT at it. Returns the version (None: nothing yet)."""
        version = self.current()
        local = self.layout.current_version()
        if version is None or version == local:
            return version
        if local is not None and local > version:
            # this host published a newer version and is sending it to the cluster (a re-index
            # in progress, here or in another worker on this host): never roll CURRENT back
            return local
        if not (self.layout.version_dir(version) / "manifest.json").exists():
            self._pull(version)
        self.layout.publish(version)
        log.info("following the cluster: now at index version %s", version)
        return version

    def _pull(self, version: str) -> None:
        from ..domain import Chunk

        rows = self.query("SELECT bundle FROM copilot_index_versions WHERE version = :v", v=version)
        if not rows:
            raise IndexUnavailable(f"the cluster's current index version {version} has no bundle; re-index from one host")
        tmp = self.layout.versions / f".tmp-pull-{version}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            with tarfile.open(fileobj=io.BytesIO(bytes(rows[0][0])), mode="r:gz") as tar:
                tar.extractall(tmp, filter="data")  # no absolute paths, links or devices
            chunks = json.loads((tmp / f"{version}.chunks.json").read_text(encoding="utf-8"))
            fields = set(Chunk.__dataclass_fields__)
            objs = [Chunk(**{k: v for k, v in c.items() if k in fields}) for c in chunks]
            self.catalog.add_chunks(objs, [c["_tokens"] for c in chunks], [c["_stated"] for c in chunks])
            os.replace(tmp / version, self.layout.version_dir(version))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

