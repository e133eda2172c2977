"""The migrations form one chain whose head is the store's HEAD_REVISION (no two branches from
migrations written side by side)."""

from __future__ import annotations

from alembic.config import Config
from alembic.script import ScriptDirectory

from meshclaw.store.database import HEAD_REVISION, MIGRATIONS


def test_one_head_and_it_is_the_newest_file():
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(cfg)
    assert script.get_heads() == [HEAD_REVISION]
    revisions = [r.revision for r in script.walk_revisions()]
    assert revisions == sorted(revisions, reverse=True)  # numbered in the order they apply
