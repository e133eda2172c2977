"""The audit log is append-only and tamper-evident."""

from __future__ import annotations

from sqlalchemy import text

from meshclaw.store.facade import Store


def make(tmp_path, n=5) -> Store:
    store = Store(tmp_path / "home", secret_values=["hunter2-secret"])
    for i in range(n):
        store.audit.append(f"e{i}", "decision", run_id="r1", agent="a", tool="notes.add", verdict="allow",
                           data={"i": i, "password": "p", "note": "uses hunter2-secret", "input_tokens": 12,
                                 "headers": {"Authorization": "Bearer x", "access_token": "y"}})
    return store


def test_records_are_idempotent_and_redacted(tmp_path):
    store = make(tmp_path)
    assert store.audit.append("e1", "decision") == 2
    records = store.audit.records()
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert records[0].data["password"] == "[redacted]"
    assert records[0].data["note"] == "uses [redacted]"
    assert records[0].data["input_tokens"] == 12
    assert records[0].data["headers"] == {"Authorization": "[redacted]", "access_token": "[redacted]"}
    assert store.audit.verify().ok


def test_edit_is_detected(tmp_path):
    store = make(tmp_path)
    with store.db.engine.begin() as c:
        c.execute(text("UPDATE audit SET verdict='deny' WHERE seq=3"))
    r = store.audit.verify()
    assert not r.ok and r.broken_seq == 3 and "edited" in r.problem


def test_delete_is_detected(tmp_path):
    store = make(tmp_path)
    with store.db.engine.begin() as c:
        c.execute(text("DELETE FROM audit WHERE seq=2"))
    r = store.audit.verify()
    assert not r.ok and r.broken_seq == 2 and "missing" in r.problem


def test_reorder_is_detected(tmp_path):
    store = make(tmp_path)
    with store.db.engine.begin() as c:  # swap the contents of records 2 and 4, keeping seq numbers
        c.execute(text("UPDATE audit SET seq=-2 WHERE seq=2"))
        c.execute(text("UPDATE audit SET seq=2 WHERE seq=4"))
        c.execute(text("UPDATE audit SET seq=4 WHERE seq=-2"))
    r = store.audit.verify()
    assert not r.ok and r.broken_seq == 2


def test_rehashing_without_the_key_does_not_help(tmp_path):
    import hashlib
    import json

    store = make(tmp_path)
    with store.db.engine.begin() as c:  # an attacker recomputes a plain SHA-256 chain after editing
        c.execute(text("UPDATE audit SET hash=:h WHERE seq=5"), {"h": hashlib.sha256(json.dumps({}).encode()).hexdigest()})
    assert store.audit.verify().broken_seq == 5


def test_records_appended_together_chain_and_verify_like_single_ones(tmp_path):
    store = Store(tmp_path / "home")
    store.audit.append("one", "operation", data={"n": 1})
    seqs = store.audit.append_many([{"event_key": f"many-{i}", "kind": "operation", "user_id": f"u{i}",
                                     "data": {"n": i}} for i in range(3)] + [{"event_key": "one", "kind": "operation"}])
    assert seqs == [2, 3, 4, 1]  # the entry already logged keeps its number
    store.audit.append("after", "operation")
    assert store.audit.verify().ok
    assert [r.user_id for r in store.audit.records(kind="operation")][1:4] == ["u0", "u1", "u2"]
