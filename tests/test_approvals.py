"""Durable approvals: a run waits for a person, survives a restart, expires to deny, resumes once approved."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess

import pytest

from meshclaw.runtime.control import answer_approval
from tests.builders import Org, call, say
from tests.conftest import MESHCLAW, ROOT, write_config
from tests.runtime_support import runtime
from tests.waiting import wait_for, wait_for_async

ADD_MILK = call("notes.add", text="buy milk")
KEEPER = (Org().user("alice", email="alice@example.com")
          .scripted("script", ADD_MILK, ADD_MILK, say("done"))
          .agent("keeper", instructions="Keep notes.", model="script", autonomy="ask",
                 toolsets={"notes": ["notes.add", "notes.list"]})
          .local_user("alice"))


def config(expiry=3600) -> Org:
    """keeper, who asks before each of two identical notes; a request expires after ``expiry`` seconds."""
    return KEEPER.agent("keeper", limits={"approval_seconds": expiry})


async def _pending(rt, n=1, timeout=20.0):  # type: ignore[no-untyped-def]
    def pending():  # type: ignore[no-untyped-def]
        found = rt.store.approvals.pending()
        return found if len(found) >= n else None

    return await wait_for_async(pending, timeout, what="an approval request")


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
        records = [r for r in rt.store.audit.records(run_id=outcome.run_id) if r.kind == "approval"]
        assert [r.verdict for r in records] == ["requested", "covered"]  # the covering grant is on the record
        [grant] = rt.store.approval_grants.listing()
        assert records[1].data["grant"] == grant.id and grant.run_id == outcome.run_id and grant.scope == "arguments"


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


@pytest.mark.slow
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


@pytest.mark.slow
def test_waiting_run_survives_sigkill_and_resumes_after_approval(home, cli):
    write_config(home, config().scripted("script", ADD_MILK, say("done")))
    cli("promote", "keeper", check=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), MESHCLAW_HOME=str(home))
    worker = subprocess.Popen([*MESHCLAW, "run", "keeper", "remember milk"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)

    def asked():  # type: ignore[no-untyped-def]
        assert worker.poll() is None, "the run ended before asking"
        listing = cli("approvals", "--json", check=True)
        return listing if '"tool": "notes.add"' in listing.stdout else None

    listing = wait_for(asked, 60, 0.2, what="keeper's approval request")
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(10)
    import json

    [request] = json.loads(listing.stdout)
    shown = cli("approvals", check=True).stdout
    assert "keeper (for alice) wants to run notes.add" in shown and "buy milk" in shown and "why asked" in shown
    origin = next(line for line in shown.splitlines() if line.strip().startswith("text: 'buy milk'"))
    assert "came from" in origin or "the model wrote it" in origin  # plain words, not "from written by ... (unknown)"
    assert "(unknown)" not in shown

    # A fresh worker takes over the waiting run; the approval is given from a third process.
    resumer = subprocess.Popen([*MESHCLAW, "resume"], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_for(lambda: _executor_started(home, resumer.pid), 60, what="the resuming process's first heartbeat")
    wait_for(lambda: cli("runs", "--json", check=True).stdout.count('"status": "waiting"') == 1, 60,
             what="the resumed run waiting again")
    approved = cli("approve", request["id"], check=True)
    assert "approved" in approved.stdout
    out, _ = resumer.communicate(timeout=60)
    assert "succeeded" in out.decode(), out.decode()
    assert f"is waiting for approval: `meshclaw approve {request['id']}`" in out.decode()  # never silent
    runs = cli("runs", "show", request["run"], check=True).stdout
    assert runs.count("call  done  notes.add") == 1
    again = cli("approve", request["id"])
    assert again.returncode == 2 and "already approved" in again.stderr


def _executor_started(home, pid: int) -> bool:  # type: ignore[no-untyped-def]
    """Whether the process ``pid`` has launched its runtime (its executor's first heartbeat is stored)."""
    from sqlalchemy import select

    from meshclaw.store.facade import Store
    from meshclaw.store.tables import Executor

    with Store(home).db.session() as s:
        return s.scalar(select(Executor.id).where(Executor.pid == pid)) is not None
