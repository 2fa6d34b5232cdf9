"""The store's backends as a test parameter.

A test module that sets ``BACKENDS = True`` runs each of its tests twice, on a SQLite
file and on a real PostgreSQL server (tests/pg_server.py, started once for the
session), except the tests marked ``sqlite_only`` (those that look inside the SQLite
file itself). On PostgreSQL every test gets a database of its own, a copy of one
already migrated, and ``OPCHAT_DATABASE_URL`` points at it, so ``Store.open`` and
``Inbox.open`` use it whatever data dir they are given, and so do the ``opchat``
processes a test starts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

import pytest

from tests.tools import missing

BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: the test reads the SQLite file itself")
    # The terminal tests' tmux sessions run on a server of this test process's own, so
    # that nothing else on the machine (a `tmux kill-server`, another run) ends them.
    os.environ.pop("TMUX", None)
    os.environ["TMUX_TMPDIR"] = tempfile.mkdtemp(prefix="opchat-tests-tmux-")
    # A server with no session left exits, and a test starting its session in that
    # moment fails with "server exited unexpectedly": one idle session keeps it up.
    if shutil.which("tmux"):
        subprocess.run(["tmux", "new-session", "-d", "-s", "opchat-tests-keep",
                        "sleep 86400"], capture_output=True, check=False)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if not getattr(metafunc.module, "BACKENDS", False):
        return
    if "backend" not in metafunc.fixturenames:
        metafunc.fixturenames.append("backend")
    if metafunc.definition.get_closest_marker("sqlite_only") is None:
        metafunc.parametrize("backend", BACKENDS, indirect=True)
    # else: no parameter (the test keeps its name, a snapshot its file): SQLite


class _Postgres:
    """The session's server and a migrated template to copy databases from."""

    def __init__(self) -> None:
        from tests.pg_server import PgServer, pg_bin

        if pg_bin() is None:
            missing("PostgreSQL's server binaries are not installed "
                    "(apt-get install postgresql)")
        self.server = PgServer().start()
        self.template = ""

    def database(self) -> str:
        if not self.template:
            import asyncio
            from pathlib import Path

            from opchat.store import Store

            url = self.server.create_database()

            async def migrate() -> None:
                store = await Store.open(Path("/nonexistent"), url=url)
                await store.close()

            asyncio.run(migrate())
            self.template = url.rsplit("/", 1)[1]
        return self.server.create_database(template=self.template)


_postgres: _Postgres | None = None


@pytest.fixture(scope="session")
def postgres() -> Iterator[_Postgres]:
    global _postgres
    if _postgres is None:
        _postgres = _Postgres()
    yield _postgres


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _postgres is not None:
        _postgres.server.stop()
    private = os.environ.get("TMUX_TMPDIR", "")
    if private.startswith(tempfile.gettempdir()) and "opchat-tests-tmux-" in private:
        if shutil.which("tmux"):
            subprocess.run(["tmux", "kill-server"], capture_output=True, check=False)
        shutil.rmtree(private, ignore_errors=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """"sqlite" or "postgresql"; on PostgreSQL, ``OPCHAT_DATABASE_URL`` is this test's
    own database."""
    name = getattr(request, "param", "sqlite")
    monkeypatch.delenv("OPCHAT_DATABASE_URL", raising=False)
    if name == "postgresql":
        monkeypatch.setenv("OPCHAT_DATABASE_URL",
                           request.getfixturevalue("postgres").database())
    return name


@pytest.fixture(autouse=True)
def _database(request: pytest.FixtureRequest) -> None:
    """Before any other fixture opens a store: the backend's database (autouse fixtures
    come first)."""
    if getattr(request.module, "BACKENDS", False):
        request.getfixturevalue("backend")


@pytest.fixture
def no_catch_up_by_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """Work that follows the commits (store/later.py: the search index, the figures'
    roll-up) runs only when asked to (opening, closing, a search), not after commits."""
    import opchat.store.later as later_module

    monkeypatch.setattr(later_module, "DELAY", 3600.0)
