"""The audit log's anchor: signed checkpoints outside the database that its writer cannot rewrite.

A log that lost its newest records (or all of them), or that was re-chained by someone who read
the HMAC key, does not verify; a lost key is reported as lost, never silently replaced."""

from __future__ import annotations

import json
import sqlite3

import pytest
from sqlalchemy import text

from meshclaw.domain.errors import StoreError
from meshclaw.store.audit import GENESIS, _fields, record_hash
from meshclaw.store.facade import Store
from tests.builders import Org
from tests.conftest import write_config


def filled(home, n=5) -> Store:
    store = Store(home)
    for i in range(n):
        store.audit.append(f"e{i}", "decision", run_id="r1", agent="a", tool="email.send", verdict="allow",
                           data={"i": i})
    return store


def rechain(store: Store, edit_sql: str) -> None:
    """What someone with write access to the database and read access to audit.key can do: edit a
    record, then recompute every hash after it with the real key."""
    with store.db.engine.begin() as c:
        c.execute(text(edit_sql))
    prev = GENESIS
    for r in store.audit.records():
        h = record_hash(store.audit.key, prev, _fields(r))
        with store.db.engine.begin() as c:
            c.execute(text("UPDATE audit SET prev_hash=:p, hash=:h WHERE seq=:s"), {"p": prev, "h": h, "s": r.seq})
        prev = h


def test_an_intact_log_is_anchored_through_its_newest_record(tmp_path):
    store = filled(tmp_path / "home")
    r = store.audit.verify()
    assert r.ok and r.checked == 5 and r.anchored_through == 5 and r.fingerprint
    lines = (tmp_path / "home" / "audit-checkpoints.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["kind"] == "key" and [json.loads(x)["seq"] for x in lines[1:]] == [1, 2, 3, 4, 5]
    assert (tmp_path / "home" / "audit-checkpoints.jsonl").stat().st_mode & 0o077 == 0
    assert (tmp_path / "home" / "audit-checkpoint.key").stat().st_mode & 0o077 == 0


def test_deleting_the_newest_records_is_reported_and_reused_numbers_do_not_hide_it(tmp_path):
    """S4: the newest two records deleted with SQL; a later append takes their sequence numbers."""
    store = filled(tmp_path / "home")
    with store.db.engine.begin() as c:
        c.execute(text("DELETE FROM audit WHERE seq > 3"))
    r = Store(tmp_path / "home").audit.verify()
    assert not r.ok and r.problem.startswith("log ends at 3 but checkpoint says 5")
    again = Store(tmp_path / "home")
    assert again.audit.append("later", "decision") == 4
    r = again.audit.verify()
    assert not r.ok and r.broken_seq == 4 and "not the one its signed checkpoint names" in r.problem


def test_deleting_every_record_is_reported(tmp_path):
    store = filled(tmp_path / "home")
    with store.db.engine.begin() as c:
        c.execute(text("DELETE FROM audit"))
    r = Store(tmp_path / "home").audit.verify()
    assert not r.ok and r.problem.startswith("log ends at 0 but checkpoint says 5")


def test_a_log_rechained_with_the_stolen_hmac_key_does_not_verify(tmp_path):
    store = filled(tmp_path / "home")
    rechain(store, "UPDATE audit SET verdict='deny', tool='notes.add' WHERE seq=2")
    assert store.audit._walk({}).ok  # the chain alone would say "intact"
    r = store.audit.verify()
    assert not r.ok and r.broken_seq == 2 and "rewritten and chained again" in r.problem


def test_forged_checkpoints_appended_after_a_rechain_are_caught(tmp_path):
    """Even with the checkpoint key too, appending checkpoints for the new hashes leaves the old ones."""
    home = tmp_path / "home"
    store = filled(home)
    rechain(store, "UPDATE audit SET verdict='deny' WHERE seq=3")
    for r in store.audit.records():
        store.audit.checkpoints.record(r.seq, r.hash)
    r = Store(home).audit.verify()
    assert not r.ok and "two different signed hashes for record 3" in r.problem


def test_checkpoints_under_a_new_key_are_caught(tmp_path):
    from meshclaw.store.audit_checkpoints import Checkpoints

    home = tmp_path / "home"
    store = filled(home)
    rechain(store, "UPDATE audit SET verdict='deny' WHERE seq=3")
    other = Checkpoints.create(home / "audit-checkpoints.jsonl", tmp_path / "attacker.key")
    for r in store.audit.records():
        other.record(r.seq, r.hash)
    r = store.audit.verify()
    assert not r.ok and "2 different keys" in r.problem


def test_an_edited_checkpoint_line_is_caught(tmp_path):
    home = tmp_path / "home"
    filled(home)
    path = home / "audit-checkpoints.jsonl"
    lines = path.read_text().splitlines()
    forged = json.loads(lines[-1]) | {"seq": 9}
    path.write_text("\n".join(lines[:-1] + [json.dumps(forged)]) + "\n")
    r = Store(home).audit.verify()
    assert not r.ok and "is not signed by the checkpoint key" in r.problem


def test_a_lost_hmac_key_is_reported_never_replaced(tmp_path):
    home = tmp_path / "home"
    filled(home)
    (home / "audit.key").unlink()
    with pytest.raises(StoreError, match="audit key .* is missing, but the audit log holds records"):
        Store(home)
    assert not (home / "audit.key").exists()


def test_a_lost_checkpoint_key_or_file_is_reported_never_replaced(tmp_path):
    home = tmp_path / "home"
    filled(home)
    key = home / "audit-checkpoint.key"
    saved = key.read_bytes()
    key.unlink()
    with pytest.raises(StoreError, match="checkpoint key .* is missing"):
        Store(home)
    assert not key.exists()
    key.write_bytes(saved)
    key.chmod(0o600)
    (home / "audit-checkpoints.jsonl").unlink()
    with pytest.raises(StoreError, match="checkpoint file .* is missing"):
        Store(home)
    assert not (home / "audit-checkpoints.jsonl").exists()


def test_an_unanchored_log_does_not_verify_until_anchored(tmp_path):
    """A log older than checkpoints (or one whose key and checkpoints were both removed) is never
    anchored silently: verify says so, and an admin anchors it on purpose."""
    home = tmp_path / "home"
    filled(home)
    (home / "audit-checkpoint.key").unlink()
    (home / "audit-checkpoints.jsonl").unlink()
    store = Store(home)
    store.audit.append("more", "decision")
    assert not (home / "audit-checkpoints.jsonl").exists()
    r = store.audit.verify()
    assert not r.ok and "has no signed checkpoint" in r.problem and "missing" in r.problem
    r = store.audit.start_anchor(home / "audit-checkpoints.jsonl", home / "audit-checkpoint.key")
    assert r.ok and r.anchored_through == 6
    with pytest.raises(StoreError, match="already anchored"):
        store.audit.start_anchor(home / "audit-checkpoints.jsonl", home / "audit-checkpoint.key")


def test_the_checkpoints_can_live_outside_the_data_dir(tmp_path, monkeypatch):
    outside = tmp_path / "elsewhere" / "meshclaw-audit.jsonl"
    monkeypatch.setenv("MESHCLAW_AUDIT_CHECKPOINTS", str(outside))
    monkeypatch.setenv("MESHCLAW_AUDIT_CHECKPOINT_KEY", str(tmp_path / "elsewhere" / "signing.key"))
    home = tmp_path / "home"
    store = filled(home, 3)
    assert not (home / "audit-checkpoints.jsonl").exists() and not (home / "audit-checkpoint.key").exists()
    assert len(outside.read_text().splitlines()) == 4
    r = store.audit.verify()
    assert r.ok and r.anchor == str(outside)


CONFIG = (Org().user("alice", email="alice@example.com").user("secops", name="Security", roles=["admin"])
          .local_user("alice"))


def test_audit_verify_says_where_the_log_ends(home, cli):
    write_config(home, CONFIG)
    cli("start", "--all")  # refused for alice: an operation record
    cli("audit", "show", check=True)
    ok = cli("audit", "verify", check=True).stdout
    assert "audit log intact: 1 records" in ok and "anchored through record 1 by" in ok
    db = sqlite3.connect(home / "meshclaw.sqlite")
    db.execute("DELETE FROM audit")
    db.commit()
    broken = cli("audit", "verify")
    assert broken.returncode == 1
    assert "audit log does not verify: log ends at 0 but checkpoint says 1" in broken.stderr


def test_only_an_admin_anchors_an_old_log(home, cli):
    write_config(home, CONFIG)
    cli("start", "--all")
    (home / "audit-checkpoint.key").unlink()
    (home / "audit-checkpoints.jsonl").unlink()
    unanchored = cli("audit", "verify").stderr
    assert "has no signed checkpoint" in unanchored and "`meshclaw audit anchor`" in unanchored
    refused = cli("audit", "anchor")
    assert refused.returncode != 0 and "only an admin may" in refused.stderr
    write_config(home, CONFIG.local_user("secops"))
    done = cli("audit", "anchor", check=True).stdout
    assert "audit log anchored: 3 records" in done
    assert "intact: 3 records" in cli("audit", "verify", check=True).stdout  # refused start, refused anchor, anchor
