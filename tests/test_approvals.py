"""Durable approvals: a run waits for a person, survives a restart, expires to deny, resumes once approved."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time

from meshclaw.runtime.control import answer_approval
from tests.conftest import MESHCLAW, ROOT, write_config
from tests.runtime_support import runtime
from tests.support.local_user import mapped

CONFIG = mapped("""
users: [{id: alice, name: Alice, email: alice@example.com}]
models:
  script:
    kind: scripted
    turns:
      - {tool: notes.add, args: {text: "buy milk"}}
      - {tool: notes.add, args: {text: "buy milk"}}
      - {text: "done"}
agents:
  - name: keeper
    owner: alice
    instructions: Keep notes.
    model: script
    autonomy: ask
    limits: {approval_seconds: EXPIRY}
    toolsets:
      notes: {grants: [notes.add, notes.list]}
""")


def config(expiry=3600) -> str:
    return CONFIG.replace("EXPIRY", str(expiry))


async def _pending(rt, n=1, timeout=20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = rt.store.approvals.pending()
        if len(pending) >= n:
            return pending
        await asyncio.sleep(0.05)
    raise AssertionError("no approval request appeared")


def _answer(rt, approval, decision, scope="call"):  # type: ignore[no-untyped-def]
    rt.store.approvals.decide(approval.id, decision, "alice", scope=scope)
    answer_approval(rt.home, None, approval.run_id, approval.id, decision)


def test_approve_for_run_covers_identical_calls(home):
    with runtime(home, config()) as rt:
        async def go():  # type: ignore[no-untyped-def]
            run_id = await rt.start("keeper", "remember milk")
            [request] = await _pending(rt)
            assert request.tool == "notes.add" and request.args == {"text": "buy milk"}
            assert rt.store.runs.get(run_id).status == "waiting"
            _answer(rt, request, "approved", scope="run")
            return await rt.wait(run_id)

        outcome = asyncio.run(go())
        assert outcome.status == "succeeded"
        # Two identical calls, one question: the second was covered by the approval for this run.
        assert len(rt.store.notes.list("alice")) == 2
        assert rt.store.approvals.pending() == []
        assert len([r for r in rt.store.audit.records(run_id=outcome.run_id) if r.kind == "approval"]) == 1


def test_deny_means_not_done(home):
    with runtime(home, config()) as rt:
        async def go():  # type: ignore[no-untyped-def]
            run_id = await rt.start("keeper", "remember milk")
            [request] = await _pending(rt)
            _answer(rt, request, "denied")
            [second] = await _pending(rt)  # a call-scoped denial does not cover the next call
            _answer(rt, second, "denied")
            return await rt.wait(run_id)

        outcome = asyncio.run(go())
        assert outcome.status == "succeeded"
        assert rt.store.notes.list("alice") == []


def test_unanswered_request_expires_to_deny(home):
    with runtime(home, config(expiry=1)) as rt:
        async def go():  # type: ignore[no-untyped-def]
            run_id = await rt.start("keeper", "remember milk")
            return await rt.wait(run_id)

        outcome = asyncio.run(go())
        assert rt.store.notes.list("alice") == []
        statuses = {a.status for a in _all_approvals(rt)}
        assert statuses == {"expired"}
        assert outcome.status == "succeeded"


def _all_approvals(rt):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from meshclaw.store.tables import Approval

    with rt.store.db.session() as s:
        return list(s.scalars(select(Approval)))


def test_waiting_run_survives_sigkill_and_resumes_after_approval(home, cli):
    write_config(home, config().replace("- {tool: notes.add, args: {text: \"buy milk\"}}\n      - {text", "- {text"))
    cli("promote", "keeper", check=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), MESHCLAW_HOME=str(home))
    worker = subprocess.Popen([*MESHCLAW, "run", "keeper", "remember milk"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        listing = cli("approvals", "--json", check=True)
        if '"tool": "notes.add"' in listing.stdout:
            break
        assert time.monotonic() < deadline and worker.poll() is None
        time.sleep(0.2)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(10)
    import json

    [request] = json.loads(listing.stdout)
    shown = cli("approvals", check=True).stdout
    assert "keeper (for alice) wants to run notes.add" in shown and "buy milk" in shown and "why asked" in shown

    # A fresh worker takes over the waiting run; the approval is given from a third process.
    resumer = subprocess.Popen([*MESHCLAW, "resume"], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(3)
    approved = cli("approve", request["id"], check=True)
    assert "approved" in approved.stdout
    out, _ = resumer.communicate(timeout=60)
    assert "succeeded" in out.decode(), out.decode()
    runs = cli("runs", "show", request["run"], check=True).stdout
    assert runs.count("call  done  notes.add") == 1
    again = cli("approve", request["id"])
    assert again.returncode == 2 and "already approved" in again.stderr
