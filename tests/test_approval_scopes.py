"""Approvals people can live with: a wider scope chosen when approving (identical calls, the same
recipients; for the run or for some hours), audited and revocable; never a recipient that was not
shown; expired or revoked grants stop covering at once; an approval-fatigue budget with an alert;
only the owner, a delegate or an admin may answer or revoke, audited as who they are."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from meshclaw.domain.effects import Effect, ToolSpec
from meshclaw.domain.errors import NotAuthorized, UsageError
from meshclaw.operations import approvals
from meshclaw.operations.actor import Actor
from meshclaw.operations.context import Context
from meshclaw.policy.approvals import ApprovalGrant, approval_key, covering_grant, fatigue_notice, target_key
from meshclaw.runtime.control import answer_approval
from meshclaw.security import workplace
from tests.builders import Org, call, say
from tests.conftest import write_config
from tests.runtime_support import runtime
from tests.waiting import wait_for_async

SEND = ToolSpec(name="email.send", effect=Effect.EXTERNAL, description="send", sensitive_args=("to", "cc"))
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)


def _grant(scope: str, args: dict, *, run_id: str | None = "run-1", expires: datetime | None = None,
           revoked: datetime | None = None) -> ApprovalGrant:
    key = approval_key(SEND, args) if scope == "arguments" else target_key(SEND, args)
    assert key is not None
    return ApprovalGrant("g1", "mailer", "email.send", scope, key, NOW - timedelta(minutes=5), run_id, expires, revoked)


# --- what a grant covers (pure) ------------------------------------------------------------------

def test_a_recipient_grant_covers_another_body_to_the_same_people_and_nobody_else():
    shown = {"to": ["bob@example.com"], "subject": "Lunch", "body": "Noon?"}
    g = _grant("recipient", shown)

    def covers(args: dict, run_id: str = "run-1") -> bool:
        return covering_grant(SEND, args, [g], agent="mailer", run_id=run_id, at=NOW) is not None

    assert covers({"to": ["bob@example.com"], "subject": "Lunch", "body": "12:30 instead?"})
    assert not covers({"to": ["eve@outside.test"], "subject": "Lunch", "body": "Noon?"})
    assert not covers({"to": ["bob@example.com", "eve@outside.test"], "subject": "Lunch", "body": "Noon?"})
    # A recipient hidden in an argument the tool does not declare sensitive is a recipient too.
    assert not covers({**shown, "options": {"bcc": ["eve@outside.test"]}})
    assert not covers(shown, run_id="run-2")  # for this run only
    assert covering_grant(SEND, shown, [g], agent="other-agent", run_id="run-1", at=NOW) is None


def test_an_arguments_grant_covers_only_identical_calls():
    shown = {"to": ["bob@example.com"], "subject": "Lunch", "body": "Noon?"}
    g = _grant("arguments", shown, run_id=None, expires=NOW + timedelta(hours=1))
    assert covering_grant(SEND, dict(shown), [g], agent="mailer", run_id="any", at=NOW) is g
    assert covering_grant(SEND, {**shown, "body": "Noon? " + "x" * 300}, [g], agent="mailer", run_id="any", at=NOW) is None


def test_expired_revoked_and_unbounded_grants_cover_nothing():
    shown = {"to": ["bob@example.com"], "subject": "s", "body": "b"}
    hour = _grant("arguments", shown, run_id=None, expires=NOW + timedelta(hours=1))
    assert covering_grant(SEND, shown, [hour], agent="mailer", run_id="r", at=NOW + timedelta(minutes=59)) is hour
    assert covering_grant(SEND, shown, [hour], agent="mailer", run_id="r", at=NOW + timedelta(hours=1)) is None
    revoked = _grant("arguments", shown, run_id=None, expires=NOW + timedelta(hours=1), revoked=NOW - timedelta(seconds=1))
    assert covering_grant(SEND, shown, [revoked], agent="mailer", run_id="r", at=NOW) is None
    # Decided at a time before the revocation (a replay), the same grant still covered the call.
    assert covering_grant(SEND, shown, [revoked], agent="mailer", run_id="r", at=NOW - timedelta(seconds=2)) is revoked
    unbounded = _grant("arguments", shown, run_id=None, expires=None)
    assert covering_grant(SEND, shown, [unbounded], agent="mailer", run_id="r", at=NOW) is None


def test_fatigue_notice_only_beyond_the_budget():
    assert fatigue_notice("alice", "mailer", 20, 20) is None
    notice = fatigue_notice("alice", "mailer", 21, 20)
    assert notice is not None and "over the approval budget of 20" in notice and "mailer" in notice
    assert "still waits for a person" in notice


# --- in runs -------------------------------------------------------------------------------------

SANDBOX_EMAIL = {"grants": ["email.send"], "module": "meshclaw.security.sandbox_tools:email"}
TO_BOB_1 = call("email.send", to=["bob@example.com"], subject="Lunch", body="Noon at the usual place?")
TO_BOB_2 = call("email.send", to=["bob@example.com"], subject="Lunch", body="Or 12:30 if that suits you better.")
TO_EVE = call("email.send", to=["eve@outside.test"], subject="Lunch", body="Noon at the usual place?")


def mailer(*turns, approvals_per_day: int = 20) -> Org:
    return (Org().organisation().user("alice", email="alice@example.com", delegates=["dave"],
                                      approvals_per_day=approvals_per_day)
            .user("dave").user("mallory").user("root", roles=["admin"])
            .scripted("script", *turns, say("done"))
            .agent("mailer", instructions="Send mail for Alice.", model="script", autonomy="ask",
                   toolsets={"email": SANDBOX_EMAIL})
            .local_user("alice"))


async def _pending(rt, run_id, n=1):  # type: ignore[no-untyped-def]
    def found():  # type: ignore[no-untyped-def]
        rows = rt.store.approvals.pending(run_id=run_id)
        return rows if len(rows) >= n else None

    return await wait_for_async(found, 30, what="an approval request")


def _as(ctx: Context, user: str) -> Actor:
    return Actor.of(ctx.config, user)


async def _start(rt, task="lunch with bob"):  # type: ignore[no-untyped-def]
    run_id = uuid.uuid4().hex
    wp = workplace.Workplace.build({})
    workplace.attach(run_id, wp)
    await rt.start("mailer", task, run_id=run_id)
    return run_id, wp


def _sent_to(wp) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return [e.args["to"] for e in wp.effects if e.tool == "email.send"]


def test_a_recipient_grant_for_the_run_covers_bob_again_but_eve_is_asked(home):
    with runtime(home, mailer(TO_BOB_1, TO_BOB_2, TO_EVE)) as rt:
        ctx = Context.of_runtime(rt)

        async def go():  # type: ignore[no-untyped-def]
            run_id, wp = await _start(rt)
            [first] = await _pending(rt, run_id)
            answered = approvals.answer(ctx, _as(ctx, "dave"), first.id, "approved", scope="recipient")
            assert answered.grant_id and answered.scope == "recipient" and answered.until is None
            [to_eve] = await _pending(rt, run_id)  # bob's second mail went out without asking; eve's waits
            assert to_eve.args["to"] == ["eve@outside.test"]
            approvals.answer(ctx, _as(ctx, "alice"), to_eve.id, "denied")
            return run_id, wp, await rt.wait(run_id)

        run_id, wp, outcome = asyncio.run(go())
        workplace.detach(run_id)
        assert outcome.status == "succeeded"
        assert _sent_to(wp) == [["bob@example.com"], ["bob@example.com"]]
        records = rt.store.audit.records(run_id=run_id, kind="approval")
        assert [r.verdict for r in records] == ["requested", "approved", "covered", "requested", "denied"]
        approved, covered = records[1], records[2]
        assert approved.data["by"] == "dave" and approved.data["grant_scope"] == "recipient"  # the verified id
        assert covered.data["grant"] == approved.data["grant"] and "the same recipients" in covered.reason


def test_an_arguments_grant_for_an_hour_covers_the_next_run_until_revoked(home):
    with runtime(home, mailer(TO_BOB_1)) as rt:
        ctx = Context.of_runtime(rt)

        async def go():  # type: ignore[no-untyped-def]
            first_run, _ = await _start(rt)
            [request] = await _pending(rt, first_run)
            with pytest.raises(UsageError, match="at most 24"):
                approvals.answer(ctx, _as(ctx, "alice"), request.id, "approved", scope="arguments", hours=48)
            answered = approvals.answer(ctx, _as(ctx, "alice"), request.id, "approved", scope="arguments", hours=1)
            assert answered.until is not None and answered.until - datetime.now(timezone.utc) < timedelta(hours=1, seconds=5)
            await rt.wait(first_run)
            second_run, wp2 = await _start(rt)  # the same call in another run: covered, nobody asked
            outcome2 = await rt.wait(second_run)
            assert outcome2.status == "succeeded" and _sent_to(wp2) == [["bob@example.com"]]
            [grant] = approvals.list_grants(ctx, _as(ctx, "dave"))
            assert grant.id == answered.grant_id and grant.run_id is None and grant.created_by == "alice"
            with pytest.raises(NotAuthorized, match="mallory may not revoke a grant of mailer"):
                approvals.revoke_grant(ctx, _as(ctx, "mallory"), grant.id)
            assert approvals.list_grants(ctx, _as(ctx, "mallory")) == []
            approvals.revoke_grant(ctx, _as(ctx, "dave"), grant.id)
            third_run, wp3 = await _start(rt)  # revoked: asked again at once
            [again] = await _pending(rt, third_run)
            approvals.answer(ctx, _as(ctx, "alice"), again.id, "denied")
            await rt.wait(third_run)
            return grant.id, wp3

        grant_id, wp3 = asyncio.run(go())
        assert _sent_to(wp3) == []
        assert approvals.list_grants(ctx, _as(ctx, "alice")) == []
        [ended] = approvals.list_grants(ctx, _as(ctx, "alice"), include_ended=True)
        assert ended.revoked_by == "dave"
        ops = [(r.data["operation"], r.data["actor"], r.verdict) for r in rt.store.audit.records(kind="operation")]
        assert ("revoke-grant", "mallory", "refused") in ops and ("revoke-grant", "dave", "done") in ops


def test_an_expired_grant_stops_covering(home):
    with runtime(home, mailer(TO_BOB_1)) as rt:
        ctx = Context.of_runtime(rt)

        async def go():  # type: ignore[no-untyped-def]
            first_run, _ = await _start(rt)
            [request] = await _pending(rt, first_run)
            answered = approvals.answer(ctx, _as(ctx, "alice"), request.id, "approved", scope="arguments", hours=1)
            await rt.wait(first_run)
            from meshclaw.store.tables import ApprovalGrantRow

            with rt.store.db.session() as s:  # an hour later
                s.get(ApprovalGrantRow, answered.grant_id).expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
            second_run, _ = await _start(rt)
            [again] = await _pending(rt, second_run)
            approvals.answer(ctx, _as(ctx, "alice"), again.id, "denied")
            return await rt.wait(second_run)

        assert asyncio.run(go()).status == "succeeded"


def test_a_scope_that_does_not_fit_is_refused_and_the_request_stays_pending(home):
    org = (mailer().scripted("script", call("notes.add", text="buy milk"), say("done"))
           .agent("mailer", toolsets={"notes": ["notes.add"]}))
    with runtime(home, org) as rt:
        ctx = Context.of_runtime(rt)

        async def go():  # type: ignore[no-untyped-def]
            run_id = await rt.start("mailer", "remember milk")
            [request] = await _pending(rt, run_id)
            with pytest.raises(UsageError, match="names no recipient or target"):
                approvals.answer(ctx, _as(ctx, "alice"), request.id, "approved", scope="recipient")
            with pytest.raises(UsageError, match="only an approval can be given a wider scope"):
                approvals.answer(ctx, _as(ctx, "alice"), request.id, "denied", scope="arguments")
            with pytest.raises(NotAuthorized, match="mallory may not approve mailer"):
                approvals.answer(ctx, _as(ctx, "mallory"), request.id, "approved", scope="arguments", hours=1)
            assert rt.store.approvals.get(request.id).status == "pending"
            approvals.answer(ctx, _as(ctx, "alice"), request.id, "approved")
            return await rt.wait(run_id)

        assert asyncio.run(go()).status == "succeeded"
        assert rt.store.approval_grants.listing() == []  # refused answers granted nothing
        refused = [r for r in rt.store.audit.records(kind="operation") if r.verdict == "refused"]
        assert [(r.data["actor"], r.data["operation"]) for r in refused] == [("mallory", "approve")]


def test_over_the_fatigue_budget_requests_still_wait_and_an_alert_says_so(home):
    with runtime(home, mailer(TO_BOB_1, TO_BOB_2, approvals_per_day=1)) as rt:
        events: list[dict] = []

        async def go():  # type: ignore[no-untyped-def]
            run_id = uuid.uuid4().hex
            workplace.attach(run_id, workplace.Workplace.build({}))
            await rt.start("mailer", "lunch", run_id=run_id, listeners=[lambda e: events.append(e.as_dict())])
            [first] = await _pending(rt, run_id)
            assert first.notice is None
            rt.store.approvals.decide(first.id, "approved", "alice")
            answer_approval(rt.home, None, run_id, first.id, "approved")
            [second] = [a for a in await _pending(rt, run_id) if a.id != first.id]
            assert rt.store.approvals.get(second.id).status == "pending"  # never approved automatically
            assert "over the approval budget of 1" in second.notice and "mailer" in second.notice
            rt.store.approvals.decide(second.id, "denied", "alice")
            answer_approval(rt.home, None, run_id, second.id, "denied")
            outcome = await rt.wait(run_id)
            workplace.detach(run_id)
            return outcome

        outcome = asyncio.run(go())
        assert outcome.status == "succeeded"
        [alert] = rt.store.audit.records(kind="alert")
        assert alert.verdict == "approval-fatigue" and alert.user_id == "alice" and alert.data["asked_today"] == 2
        assert any(e["kind"] == "alert" and "over the approval budget" in e["message"] for e in events)
        assert any(e["kind"] == "approval" and "over the approval budget" in e["reason"] for e in events)


# --- the command line ----------------------------------------------------------------------------

def test_cli_lists_and_revokes_grants_and_refuses_a_stranger(home, cli):
    write_config(home, mailer(TO_BOB_1))
    with runtime(home, mailer(TO_BOB_1)) as rt:
        ctx = Context.of_runtime(rt)

        async def go():  # type: ignore[no-untyped-def]
            run_id, _ = await _start(rt)
            [request] = await _pending(rt, run_id)
            approvals.answer(ctx, _as(ctx, "alice"), request.id, "approved", scope="recipient", hours=2)
            await rt.wait(run_id)

        asyncio.run(go())
    [grant] = rt.store.approval_grants.listing()
    shown = " ".join(cli("approvals", "grants", check=True).stdout.split())  # as read, whatever the console width
    assert grant.id in shown and "the same recipients and targets in any run" in shown and "approved by alice" in shown
    assert "bob@example.com" in shown
    write_config(home, mailer(TO_BOB_1).local_user("mallory"))  # this login is now mallory
    refused = cli("approvals", "revoke", grant.id)
    assert refused.returncode != 0 and "mallory may not revoke a grant of mailer" in " ".join(refused.stderr.split())
    # A request of alice's agent: mallory (not the owner, not a delegate) cannot answer it, whatever she asks for.
    pending, _ = rt.store.approvals.request("r-x:call-1", run_id="r-x", agent="mailer", user_id="alice", tool="email.send",
                                            args={"to": ["eve@outside.test"]}, origins={}, reason="r", rule="autonomy-ask",
                                            batch_key="k", expires_in=600)
    answered = cli("approve", pending.id, "--scope", "arguments", "--hours", "1")
    assert answered.returncode == 3 and "mallory may not approve mailer" in " ".join(answered.stderr.split())
    assert rt.store.approvals.get(pending.id).status == "pending" and len(rt.store.approval_grants.listing()) == 1
    [attempt] = [r for r in rt.store.audit.records(kind="operation") if r.verdict == "refused" and r.data["operation"] == "approve"]
    assert attempt.data["actor"] == "mallory" and attempt.data["approval"] == pending.id  # who she is, from her login
    write_config(home, mailer(TO_BOB_1))
    done = cli("approvals", "revoke", grant.id, check=True)
    assert f"revoked {grant.id}" in done.stdout
    assert "no approval grants in force" in cli("approvals", "grants", check=True).stdout
    again = cli("approvals", "revoke", grant.id)
    assert again.returncode == 2 and "already revoked by alice" in again.stderr
