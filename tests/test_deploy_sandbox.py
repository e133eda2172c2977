"""The sandbox deploy backend (``backend: sandbox``) through the same deploy tools an agent is given:
deploy, rollback and history kept in the store, a health answer the store holds (a failure scripted
for a time takes effect at that time, once), logs, a deploy made once per call, state that survives
reopening the store, and clear results for bad input (no health URL, no health state, a service the
workplace does not hold, an unknown version, settings that mix sandbox and server)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_ai import ModelRetry

from meshclaw.connectors.deploy import DeployError, DeploySettings
from meshclaw.connectors.deploy.sandbox_backend import open_sandbox
from meshclaw.connectors.deploy.tools import deploy_deploy, deploy_health, deploy_logs, deploy_rollback, deploy_services
from meshclaw.connectors.deploy.watch import HealthWatcher
from meshclaw.store.facade import Store
from meshclaw.store.workplace_access import WorkplaceState
from meshclaw.store.workplace_deploy import WorkplaceDeployRepository
from tests.sandbox_support import sandbox_ctx, sandbox_store

URL = "http://payments.internal:8080/healthz"
SETTINGS = {"backend": "sandbox", "workplace": "demo", "start_wait": 0,
            "services": {"payments": {"health_url": URL}, "search": {}, "ghost": {"health_url": URL}}}
T0 = datetime(2026, 11, 29, 17, 0, tzinfo=timezone.utc)
FAILS = T0 + timedelta(hours=5)


def seeded(home) -> Store:
    """payments 2.4.0 then 2.4.1 (failing at FAILS, with error log lines); search 1.8.1 (no health URL);
    ghost is configured but not in the workplace."""
    store = sandbox_store(home, seed_mail=False)
    repo = WorkplaceDeployRepository(store.db)
    repo.add_service("demo", "payments", {"2.4.0": 200, "2.4.1": 200, "2.5.0-rc1": 500})
    repo.add_service("demo", "search", {"1.8.1": 200})
    repo.deploy("demo", "payments", "2.4.0", key="seed-1", kind="deploy", when=T0, logs=["INFO 2.4.0 started"])
    repo.deploy("demo", "payments", "2.4.1", key="seed-2", kind="deploy", when=T0 + timedelta(hours=1),
                logs=["INFO 2.4.1 started"])
    repo.deploy("demo", "search", "1.8.1", key="seed-3", kind="deploy", when=T0)
    repo.script("demo", "payments", at=FAILS, version="2.4.1", health_status=503,
                health_body='{"status": "unavailable"}', logs=["ERROR db pool exhausted", "ERROR POST /v1/charges 503"])
    return store


def backend(store: Store, at: datetime) -> Any:
    settings = DeploySettings.model_validate(SETTINGS)
    state = WorkplaceState(store.workplaces, store.workplace_chat, "alice", "demo", {}, {})
    return open_sandbox(settings, state, clock=lambda: at)


def tool(fn: Any, store: Store, call_id: str = "t1", **args: Any) -> Any:
    return asyncio.run(fn(sandbox_ctx(store, "deploy", SETTINGS, tool_call_id=call_id), **args))


def test_health_changes_at_its_scripted_time_once_and_a_rollback_is_not_undone_by_it(home):
    store = seeded(home)
    before, after = backend(store, FAILS - timedelta(seconds=1)), backend(store, FAILS)
    watch = HealthWatcher(before.settings, before, ["payments"])
    assert watch.poll() == []  # the baseline: healthy
    assert before.probe("payments", URL, 1.0).status == 200
    watch.backend = after
    [change] = watch.poll()
    assert (change.service, change.change, change.version, change.reason) == \
        ("payments", "failing", "2.4.1", "health URL answered HTTP 503")
    assert after.logs("payments", 2) == ["ERROR db pool exhausted", "ERROR POST /v1/charges 503"]
    state = after.state("payments")
    assert (state.version, state.state, state.since) == ("2.4.1", "running", FAILS.isoformat(timespec="seconds"))

    # A rollback after the failure: healthy again, and the (already applied) script does not come back.
    later = backend(store, FAILS + timedelta(minutes=5))
    done, started = later.deploy("payments", "2.4.0", "rollback-key", "rollback")
    assert started and done.version == "2.4.0" and done.previous_version() == "2.4.1"
    assert later.probe("payments", URL, 1.0).status == 200
    watch.backend = backend(store, FAILS + timedelta(hours=1))
    [recovered] = watch.poll()
    assert (recovered.change, recovered.version) == ("recovered", "2.4.0")


def test_a_script_for_a_version_no_longer_running_never_applies(home):
    store = seeded(home)
    early = backend(store, FAILS - timedelta(hours=1))
    early.deploy("payments", "2.4.0", "k-early", "rollback")  # 2.4.1 was replaced before its failure
    assert backend(store, FAILS + timedelta(hours=1)).probe("payments", URL, 1.0).status == 200


def test_deploy_rollback_and_history_through_the_tools_once_per_call(home):
    store = seeded(home)
    listing = tool(deploy_services, store)
    assert set(listing) == {"services"}  # nothing tells an agent it is in a sandbox
    payments = next(s for s in listing["services"] if s["service"] == "payments")
    assert (payments["version"], payments["previous_version"], payments["versions"]) == \
        ("2.4.1", "2.4.0", ["2.4.0", "2.4.1", "2.5.0-rc1"])

    first = tool(deploy_rollback, store, "call-1", service="payments")
    assert (first["version"], first["started_now"], first["previous_version"]) == ("2.4.0", True, "2.4.1")
    assert first["health"]["health"] == "healthy"
    again = tool(deploy_rollback, store, "call-1", service="payments")  # the same call replayed
    assert again["started_now"] is False and "was not started again" in again["note"]

    broken = tool(deploy_deploy, store, "call-2", service="payments", version="2.5.0-rc1")
    assert broken["health"]["health"] == "failing" and broken["health"]["reason"] == "health URL answered HTTP 500"
    history = backend(store, datetime.now(timezone.utc)).state("payments").history
    assert [(d.version, d.kind, d.previous) for d in history] == [
        ("2.4.0", "deploy", None), ("2.4.1", "deploy", "2.4.0"), ("2.4.0", "rollback", "2.4.1"),
        ("2.5.0-rc1", "deploy", "2.4.0")]
    logs = tool(deploy_logs, store, service="payments", lines=1)
    assert logs["version"] == "2.5.0-rc1" and len(logs["lines"]) == 1
    assert logs["lines"][0].endswith("INFO payments 2.5.0-rc1 started")
    assert logs.labels["lines"].trust.value == "untrusted"  # what the service wrote is outside content


def test_the_state_survives_reopening_the_store(home):
    store = seeded(home)
    tool(deploy_health, store, service="payments")  # now is after FAILS: the failure is applied and kept
    tool(deploy_rollback, store, "call-1", service="payments")
    reopened = Store(home)
    row = WorkplaceDeployRepository(reopened.db).service("demo", "payments", now=FAILS - timedelta(hours=1))
    assert row.version == "2.4.0" and [d["kind"] for d in row.history] == ["deploy", "deploy", "rollback"]
    assert "ERROR db pool exhausted" in row.logs  # applied once, persisted: an earlier clock does not undo it
    assert tool(deploy_health, reopened, service="payments")["health"] == "healthy"


def test_bad_input_gets_a_clear_result(home):
    store = seeded(home)
    search = tool(deploy_health, store, service="search")  # no health URL: process state only
    assert (search["health"], search["basis"]) == ("healthy", "process state only: no health URL is configured for "
                                                              "this service")
    ghost = tool(deploy_health, store, service="ghost")  # configured, but the workplace has no such service
    assert ghost["health"] == "failing" and ghost["state"] == "missing"
    assert ghost["reason"] == "process missing (the sandbox workplace 'demo' has no service of this name)"
    assert tool(deploy_logs, store, service="ghost")["lines"] == []

    # Deployed, but nothing says what its health URL answers: it does not answer.
    repo = WorkplaceDeployRepository(store.db)
    repo.add_service("demo", "quiet", {"1.0": 200})
    repo.deploy("demo", "quiet", "1.0", key="q", kind="deploy", when=T0)
    repo.script("demo", "quiet", at=T0 + timedelta(seconds=1), health_status=None, detail="")
    quiet = open_sandbox(DeploySettings.model_validate({**SETTINGS, "services": {"quiet": {"health_url": URL}}}),
                         WorkplaceState(store.workplaces, store.workplace_chat, "alice", "demo", {}, {}))
    assert quiet.probe("quiet", URL, 1.0).error == "did not answer: connection refused"

    with pytest.raises(ModelRetry, match=r"there is no service 'nope'; services: payments, search, ghost"):
        tool(deploy_health, store, service="nope")
    with pytest.raises(ModelRetry, match=r"payments has no version '9.9' in the sandbox workplace; versions: "
                                         r"2.4.0, 2.4.1, 2.5.0-rc1"):
        tool(deploy_deploy, store, "call-9", service="payments", version="9.9")
    with pytest.raises(ModelRetry, match=r"ghost has no recorded previous version to roll back to \(current: None\)"):
        tool(deploy_rollback, store, "call-8", service="ghost")


def test_settings_and_a_run_without_a_store(home):
    with pytest.raises(ValidationError, match="backend 'sandbox' needs the workplace's name"):
        DeploySettings.model_validate({"backend": "sandbox", "services": {"a": {}}})
    with pytest.raises(ValidationError, match="keeps the services in a workplace, not on a server: remove url"):
        DeploySettings.model_validate({"backend": "sandbox", "workplace": "demo", "url": "unix:///x", "services": {"a": {}}})
    with pytest.raises(ValidationError, match="backend 'docker' needs url"):
        DeploySettings.model_validate({"backend": "docker", "services": {"a": {"image": "x"}}})
    with pytest.raises(ValidationError, match="workplace is only for backend 'sandbox'"):
        DeploySettings.model_validate({"backend": "docker", "url": "unix:///x", "workplace": "demo",
                                       "services": {"a": {"image": "x"}}})
    settings = DeploySettings.model_validate(SETTINGS)
    with pytest.raises(DeployError, match="needs MeshClaw's store, which this run does not have"):
        open_sandbox(settings, None)
    store = Store(home)
    with pytest.raises(DeployError, match="cannot open its workplace: there is no sandbox workplace 'demo'"):
        open_sandbox(settings, WorkplaceState(store.workplaces, store.workplace_chat, "alice", "demo", {}, {}))


def test_a_failing_store_is_one_line_and_the_watch_goes_on(home):
    from sqlalchemy import text

    store = seeded(home)
    sandbox = backend(store, FAILS - timedelta(minutes=1))
    watch = HealthWatcher(sandbox.settings, sandbox, ["payments"])
    assert watch.poll() == []  # healthy
    with store.db.session() as s:
        s.execute(text("DROP TABLE workplace_service_changes"))
    with pytest.raises(DeployError, match=r"^the sandbox workplace's store failed while reading payments: "
                                          r"OperationalError: .*no such table: workplace_service_changes"):
        sandbox.state("payments")
    [change] = watch.poll()  # counted as failing, as an unreachable deploy API is; the watch does not stop
    assert (change.change, change.state) == ("failing", "unknown")
