"""Files holding user data are private to their owner: the data dir 0700, the databases 0600."""

from __future__ import annotations

import stat

from tests.runtime_support import run, runtime
from tests.test_runs import config


def mode(path) -> int:  # type: ignore[no-untyped-def]
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_dir_and_its_databases_are_private(tmp_path):
    home = tmp_path / "fresh" / "home"
    with runtime(home, config()) as rt:
        run(rt, "keeper", "remember to buy milk")
    assert mode(home) == 0o700
    for name in ("meshclaw.sqlite", "dbos.sqlite", "audit.key"):
        assert mode(home / name) == 0o600, name
    wal = [p for p in home.iterdir() if p.name.endswith(("-wal", "-shm"))]
    assert all(mode(p) & 0o077 == 0 for p in wal)


def test_an_existing_database_open_to_others_is_made_private(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "meshclaw.sqlite").touch(mode=0o644)
    (home / "meshclaw.sqlite").chmod(0o644)
    from meshclaw.store.facade import Store

    Store(home)
    assert mode(home / "meshclaw.sqlite") == 0o600
