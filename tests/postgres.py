"""A throwaway PostgreSQL for the tests: Debian's server (installed with apt-get when missing, as
on CI's clean machine), a cluster in a temp dir run by an unprivileged user, reachable only on a
unix socket in that dir (no TCP port at all), durability switched off (a test database is thrown
away). Each test gets a fresh database copied from a migrated template, which takes a few ms.

``NDOTO_TEST_DATABASE=postgresql`` runs the suite on it (``make test-postgresql``)."""

from __future__ import annotations

import glob
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

TEMPLATE = "ndoto_template"


def selected() -> bool:
    return os.environ.get("NDOTO_TEST_DATABASE", "sqlite").lower() in ("postgresql", "postgres", "pg")


def _bin_dir() -> Path:
    """The newest installed server's bin dir; installs Debian's ``postgresql`` when none is."""
    def found() -> Path | None:
        dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
        return Path(dirs[-1]).parent if dirs else None

    if (path := found()) is not None:
        return path
    sudo: list[str] = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"]):
        done = subprocess.run([*sudo, *step], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"installing Debian's postgresql failed ({' '.join(step)}):\n{done.stderr[-2000:]}")
    if (path := found()) is None:
        raise RuntimeError("apt-get installed postgresql but no initdb is under /usr/lib/postgresql")
    return path


class Cluster:
    """``start()`` once per test session, ``database()`` per test, ``stop()`` at the end."""

    def __init__(self, *, durable: bool = False) -> None:
        """``durable``: PostgreSQL's default fsync and synchronous commit (for benchmarks; a test
        database is thrown away, so the suite runs without them)."""
        self.durable = durable
        self.bin = _bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="ndoto-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "run"
        self.user: str | None = None
        self._ready: queue.Queue[str | BaseException] = queue.Queue()
        self._dropping: queue.Queue[str] = queue.Queue()
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None

    def _as_owner(self, args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        """PostgreSQL refuses to run as root: as root, its tools run as the package's user."""
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, **kwargs)  # type: ignore[call-overload]

    def start(self) -> None:
        self.socket_dir.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.socket_dir, "postgres")
            self.user = "postgres"
        else:
            import getpass

            self.user = getpass.getuser()
        done = self._as_owner([str(self.bin / "initdb"), "-D", str(self.data), "-U", self.user, "-A", "trust",
                               "-E", "UTF8", "--locale=C", "--no-sync"])
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{done.stderr[-2000:]}")
        fast = "" if self.durable else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        options = f"-k {self.socket_dir} -c listen_addresses='' {fast}-c max_connections=300 -c shared_buffers=64MB"
        done = self._as_owner([str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"),
                               "-w", "start"])
        if done.returncode != 0:
            log = (self.root / "log").read_text(errors="replace") if (self.root / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed:\n{done.stderr[-1000:]}\n{log[-2000:]}")
        self.sql(f"CREATE DATABASE {TEMPLATE}")

    def url(self, name: str) -> str:
        return f"postgresql+asyncpg://{self.user}@/{name}?host={self.socket_dir}"

    def sql(self, statement: str, *, database: str = "postgres") -> str:
        done = self._as_owner([str(self.bin / "psql"), "-h", str(self.socket_dir), "-U", str(self.user), "-d", database,
                               "-v", "ON_ERROR_STOP=1", "-qAt", "-c", statement])
        if done.returncode != 0:
            raise RuntimeError(f"psql {statement!r} failed:\n{done.stderr[-2000:]}")
        return done.stdout

    def migrate_template(self) -> None:
        """The template at the newest schema revision, so each test's copy starts migrated."""
        import asyncio

        from ndoto_cli.core.db import Database
        from ndoto_cli.core.settings import Settings

        async def go() -> None:
            db = await Database(Settings(home=self.root / "home", database_url=self.url(TEMPLATE))).open()
            await db.close()

        asyncio.run(go())

    # Copying the template takes 0.1-0.5 s here, a TRUNCATE of every table ~0.1 s, emptying the
    # tables with DELETE a few ms: a thread keeps a few databases ready, and empties a used one
    # (its connections ended, every row deleted, every sequence back to 1) while tests run.
    SPARE = 2

    def database(self) -> str:
        """A fresh database (a copy of the migrated template); returns its URL."""
        if self._worker is None:
            self._worker = threading.Thread(target=self._keep_ready, name="pg-databases", daemon=True)
            self._worker.start()
        name = self._ready.get(timeout=120)
        if isinstance(name, BaseException):
            raise name
        return self.url(name)

    def _reset_script(self) -> str:
        from sqlmodel import SQLModel

        import ndoto_cli.core.models  # noqa: F401 - every table

        deletes = " ".join(f"DELETE FROM {t.name};" for t in reversed(SQLModel.metadata.sorted_tables))  # children first
        return (
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            f"AND pid <> pg_backend_pid(); {deletes} "
            "SELECT setval(c.oid, 1, false) FROM pg_class c WHERE c.relkind = 'S';"
        )

    def _keep_ready(self) -> None:
        script = self._reset_script()
        while not self._stopping.is_set():
            try:
                while not self._dropping.empty():
                    name = self._dropping.get()
                    self.sql(script, database=name)
                    self._ready.put(name)
                if self._ready.qsize() < self.SPARE:
                    name = f"t_{uuid.uuid4().hex[:16]}"
                    self.sql(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
                    self._ready.put(name)
                else:
                    self._stopping.wait(0.01)
            except BaseException as exc:  # noqa: BLE001 - handed to the test that waits for a database
                self._ready.put(exc)
                return

    def drop(self, url: str) -> None:
        """Done with a database: it is emptied in the background and handed to a later test."""
        self._dropping.put(url.split("?", 1)[0].rsplit("/", 1)[1])

    def stop(self) -> None:
        self._stopping.set()
        if self._worker is not None:
            self._worker.join(timeout=60)
        self._as_owner([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(self.root, ignore_errors=True)


def empty_database(cluster: Cluster) -> str:
    """A database with no schema at all (what a new installation's server starts on)."""
    name = f"e_{uuid.uuid4().hex[:16]}"
    cluster.sql(f"CREATE DATABASE {name}")
    return cluster.url(name)
