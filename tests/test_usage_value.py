"""Value and waste beside tokens: outcomes derived from the audit log, minutes saved, waste findings with
suggestions, `usage explain`, and the telemetry surfaces (OpenTelemetry GenAI spans and metrics, the
Prometheus endpoint)."""

from __future__ import annotations

import threading
import urllib.request
from datetime import datetime, time, timedelta, timezone

import pytest
import sqlalchemy as sa

from meshclaw.domain.config_file import parse_config
from meshclaw.operations import usage as ops
from meshclaw.operations.actor import Actor
from meshclaw.operations.context import Context
from meshclaw.operations.usage_value import KINDS, derive
from meshclaw.store.facade import Store
from meshclaw.store.tables import Run
from meshclaw.store.usage import PRICE_FREE
from tests.builders import Org, call, say
from tests.conftest import write_config
from tests.cli_support import in_process
from tests.runtime_support import run, runtime

NOW = datetime.now(timezone.utc)


def _call(store: Store, key: str, tool: str, args: dict, *, run_id: str = "run-1", user: str = "alice",
          agent: str = "mailer", result: object = None) -> None:
    """An executed call as the guard pipeline audits it (kind call, verdict done, data args/result)."""
    store.audit.append(key, "call", run_id=run_id, agent=agent, user_id=user, tool=tool, verdict="done",
                       data={"args": args, "result": result, "call_id": key})


def _ctx(home, o: Org) -> Context:
    config = parse_config(o.yaml(), home / "meshclaw.yaml")
    return Context(config, Store(home), home)


BASE = (Org().user("alice").user("carol", roles=["admin"]).model("local", "bundled")
        .agent("mailer", owner="alice", model="local")
        .agent("digest", owner="alice", model="local", triggers=[{"cron": "0 7 * * *", "task": "digest"}]))


def test_outcomes_come_from_executed_calls_and_answered_approvals(home):
    ctx = _ctx(home, BASE.set("usage", {"minutes_saved": {"draft_sent_unchanged": 9}}))
    s = ctx.store
    s.runs.create("run-1", "mailer", "alice", "answer mail", {})
    s.runs.create("run-cron", "digest", "alice", "digest", {}, trigger="cron")
    _call(s, "d1", "email.draft", {"to": ["bob@example.com"], "subject": "Lunch", "body": "Yes, noon."})
    _call(s, "s1", "email.send", {"to": ["bob@example.com"], "subject": "Lunch", "body": "Yes, noon."})
    _call(s, "d2", "email.draft", {"to": ["eve@example.com"], "subject": "Offer", "body": "We can do 10%."})
    _call(s, "s2", "email.send", {"to": ["eve@example.com"], "subject": "Offer", "body": "We can do 12%."})
    _call(s, "d3", "email.draft", {"to": ["x@example.com"], "subject": "Never sent", "body": "..."})
    _call(s, "m1", "email.move", {"uid": 7, "to_folder": "Archive", "folder": "INBOX"})
    _call(s, "m2", "email.move", {"uid": 8, "to_folder": "Archive", "folder": "INBOX"})
    _call(s, "m3", "email.move", {"uid": 8, "to_folder": "INBOX", "folder": "Archive"})  # moved back
    _call(s, "c1", "calendar.create", {"title": "1:1", "attendees": ["bob@example.com"]})
    _call(s, "r1", "chat.post", {"channel": "#team", "text": "digest"}, run_id="run-cron", agent="digest")
    _call(s, "dep", "deploy.start", {"service": "web", "version": "2"})
    _call(s, "rb", "deploy.rollback", {"service": "web"})
    s.audit.append("a1", "approval", run_id="run-1", agent="mailer", user_id="alice", tool="email.send",
                   verdict="approved", data={"approval": "x"})
    s.audit.append("a2", "approval", run_id="run-1", agent="mailer", user_id="alice", tool="email.send",
                   verdict="denied", data={"approval": "y"})

    kinds = sorted(o.kind for o in derive(s, ["alice"], NOW - timedelta(days=1), NOW + timedelta(days=1)))
    assert kinds == sorted(["draft_sent_unchanged", "draft_sent_edited", "draft_unsent", "message_filed",
                            "filed_moved_back", "meeting_booked", "report_sent",
                            "deployment_rolled_back", "approval_granted", "approval_denied"])
    s.usage.record("u1", run_id="run-1", agent="mailer", user_id="alice", model="local", input_tokens=8000,
                   output_tokens=1000)
    report = ops.my_usage(ctx, Actor.of(ctx.config, "alice"), by="agent")
    t = report.total
    accepted = [k for k in kinds if KINDS[k].accepted]
    assert t.accepted == len(accepted) == 7
    assert t.minutes_saved == 9 + 4 + 1 + 10 + 15 + 30 + 0  # the configured 9 replaces the default 6
    assert t.tokens_per_accepted == pytest.approx(9000 / 7)
    assert dict(report.rows)["digest"].outcomes == {"report_sent": 1}


def test_a_chat_post_or_another_reply_never_counts_as_sending_a_reply_draft(home):
    s = _ctx(home, BASE).store
    s.runs.create("run-1", "mailer", "alice", "answer mail", {})
    _call(s, "d1", "email.draft", {"subject": "", "to": None, "body": "Thanks!", "reply_to_uid": 1, "folder": "INBOX"})
    _call(s, "d2", "email.draft", {"subject": "", "to": None, "body": "Noted.", "reply_to_uid": 2, "folder": "INBOX"})
    _call(s, "p1", "chat.post", {"channel": "team", "text": "Incident: web is failing"})
    _call(s, "s1", "email.send", {"subject": "", "body": "Noted, thanks.", "reply_to_uid": 2, "folder": "INBOX"})
    kinds = sorted(o.kind for o in derive(s, ["alice"], NOW - timedelta(days=1), NOW + timedelta(days=1)))
    assert kinds == ["draft_sent_edited", "draft_unsent", "message_sent"]


def _run_row(store: Store, run_id: str, agent: str, task: str, *, trigger: str = "manual", status: str = "succeeded",
             at: datetime | None = None, tokens: int = 1000, snapshot: dict | None = None) -> None:
    store.runs.create(run_id, agent, "alice", task, snapshot or {}, trigger=trigger)
    store.runs.set_status(run_id, status)
    if at is not None:
        with store.db.engine.begin() as conn:
            conn.execute(sa.update(Run.__table__).where(Run.__table__.c.id == run_id).values(created_at=at))
    store.usage.record(f"{run_id}:model:1", run_id=run_id, agent=agent, user_id="alice", model="local",
                       input_tokens=tokens, output_tokens=0, at=at)


def test_waste_is_found_and_shown_to_the_employee_with_a_suggestion(home):
    ctx = _ctx(home, BASE.user("carol", roles=["admin"]).user("alice", manager="carol"))
    s = ctx.store
    _run_row(s, "dup-1", "mailer", "Summarise my inbox")
    _run_row(s, "dup-2", "mailer", "summarise my  inbox")  # the same task, nearly: a duplicate
    _run_row(s, "loop-1", "mailer", "tidy up")
    for i in range(3):
        _call(s, f"loop-{i}", "email.list", {"folder": "INBOX"}, run_id="loop-1")
    for i in range(3):
        _run_row(s, f"cron-{i}", "digest", "digest", trigger="cron", at=NOW - timedelta(hours=3 * (i + 1)))

    report = ops.my_usage(ctx, Actor.of(ctx.config, "alice"))
    found = {(w.kind, w.agent) for w in report.waste}
    assert {("duplicate", "mailer"), ("loop", "mailer"), ("unread", "digest"), ("idle-schedule", "digest")} <= found
    idle = next(w for w in report.waste if w.kind == "idle-schedule")
    assert idle.runs == 3 and idle.tokens == 3000 and "meshclaw stop digest" in idle.suggestion
    # Their manager sees these findings only once they are a week old: the employee sees them first.
    assert ops.person_usage(ctx, Actor.of(ctx.config, "carol"), "alice").waste == []


def test_a_workflows_repeated_call_is_its_design_not_a_loop(home):
    ctx = _ctx(home, BASE)
    s = ctx.store
    watcher = {"kind": "workflow", "agent": {"name": "mailer", "workflow": "deploy.watch"}}
    _run_row(s, "watch-1", "mailer", "payments is failing its health check", trigger="deploy.health", snapshot=watcher)
    _run_row(s, "free-1", "mailer", "check payments")
    for run in ("watch-1", "free-1"):
        for i in range(3):
            _call(s, f"{run}-check-{i}", "deploy.health", {"service": "payments"}, run_id=run)

    loops = [w for w in ops.my_usage(ctx, Actor.of(ctx.config, "alice")).waste if w.kind == "loop"]
    assert [w.detail for w in loops] == ["run free-1 made the same call 3 times"]


def test_a_consolidation_or_a_run_a_person_started_is_never_unread_waste(home):
    ctx = _ctx(home, BASE)
    s = ctx.store
    dream = {"kind": "workflow", "agent": {"name": "mailer", "workflow": "memory.dream"}}
    _run_row(s, "dream-night", "mailer", "consolidate memory (nightly)", trigger="dream", snapshot=dream)
    _run_row(s, "dream-asked", "digest", "consolidate memory now", trigger="dream", snapshot=dream)
    _run_row(s, "asked", "mailer", "what came in today?")  # a person started it and read its answer
    _run_row(s, "mail-1", "mailer", "a new mail from bob", trigger="email.received")
    _run_row(s, "cron-1", "digest", "digest", trigger="cron")

    report = ops.my_usage(ctx, Actor.of(ctx.config, "alice"))
    unread = {w.agent: w for w in report.waste if w.kind == "unread"}
    assert unread["mailer"].runs == 1 and unread["mailer"].tokens == 1000
    assert unread["mailer"].detail == "1 run started by an event (email.received) produced nothing anyone read or acted on"
    assert unread["digest"].runs == 1 and unread["digest"].detail.startswith("1 run started by a schedule produced")
    assert report.total.sums.tokens == 5000  # consolidations still count as their agents' tokens


def _model_request(store: Store, run_id: str, agent: str, model: str, tokens: int) -> None:
    """A model request as runtime/metered.py records it: a usage event and a 'model' audit record."""
    store.usage.record(f"{run_id}:{model}", run_id=run_id, agent=agent, user_id="alice", model=model,
                       input_tokens=tokens, output_tokens=0)
    store.audit.append(f"{run_id}:{model}:audit", "model", run_id=run_id, agent=agent, user_id="alice",
                       data={"model": model, "input_tokens": tokens, "output_tokens": 0})


def test_outcomes_count_in_the_row_of_their_run_so_rows_add_up_to_the_total(home):
    ctx = _ctx(home, BASE.model("big", "bundled"))
    s = ctx.store
    s.runs.create("run-m", "mailer", "alice", "book it", {})
    s.runs.create("run-c", "digest", "alice", "digest", {}, trigger="cron")
    s.runs.create("run-e", "mailer", "alice", "a new mail", {}, trigger="email.received")
    _model_request(s, "run-m", "mailer", "local", 1000)
    _model_request(s, "run-m", "mailer", "big", 3000)  # two models: its outcomes count for big, most of its tokens
    _model_request(s, "run-c", "digest", "local", 500)
    _call(s, "m-note", "notes.add", {"text": "x"}, run_id="run-m")
    _call(s, "m-meet", "calendar.create", {"title": "1:1"}, run_id="run-m")
    _call(s, "c-post", "chat.post", {"channel": "#team", "text": "digest"}, run_id="run-c", agent="digest")
    _call(s, "e-note", "notes.add", {"text": "y"}, run_id="run-e")  # a run that asked no model

    alice = Actor.of(ctx.config, "alice")
    for by, expected in (("trigger", {"cron": 1, "email.received": 1, "manual": 2}),
                         ("model", {"big": 2, "local": 1, "(no model)": 1}),
                         ("agent", {"mailer": 3, "digest": 1})):
        report = ops.my_usage(ctx, alice, by=by)
        rows = dict(report.rows)
        assert {k: f.accepted for k, f in rows.items()} == expected, by
        assert sum(f.accepted for f in rows.values()) == report.total.accepted == 4
        assert sum(f.minutes_saved for f in rows.values()) == report.total.minutes_saved == 1 + 10 + 15 + 1
    by_model = dict(ops.my_usage(ctx, alice, by="model").rows)
    assert by_model["big"].sums.tokens == 3000 and by_model["local"].sums.tokens == 1500


def test_a_sudden_jump_in_tokens_per_outcome_is_flagged(home):
    ctx = _ctx(home, BASE)
    s = ctx.store
    for i in range(4):
        for when, tokens, prefix in ((NOW - timedelta(days=20 - i), 1000, "old"), (NOW - timedelta(days=2, hours=i), 5000, "new")):
            rid = f"{prefix}-{i}"
            _run_row(s, rid, "mailer", f"note {prefix} {i}", at=when, tokens=tokens)
            _call(s, f"{rid}:note", "notes.add", {"text": "x"}, run_id=rid)
    # the outcomes' audit time is now; move them to their runs' days
    runs = s.runs.list(user_ids=["alice"], limit=100)
    with s.db.engine.begin() as conn:
        for r in runs:
            conn.execute(sa.text("UPDATE audit SET at = :at WHERE run_id = :rid"), {"at": r.created_at, "rid": r.id})
    report = ops.my_usage(ctx, Actor.of(ctx.config, "alice"))
    [jump] = [w for w in report.waste if w.kind == "jump"]
    assert "from 1,000 to 5,000" in jump.detail


def test_explain_prints_how_each_figure_is_computed(home):
    BASE.set("usage", {"min_group_size": 7, "minutes_saved": {"meeting_booked": 25}}).local_user("alice").write(home)
    p = in_process(("usage", "explain"), {})
    assert p.returncode == 0
    out = " ".join(p.stdout.split())
    assert "at least k = 7 people" in out and "meeting_booked: accepted, 25 min saved — calendar.create done" in out
    assert "free: runs on this machine (0)" in out and "tokens per accepted outcome = tokens / accepted" in out
    assert "by model, the model that made most of its run's tokens" in out and "'(no model)'" in out
    assert "nor a memory consolidation (workflow memory.dream, trigger dream)" in out
    for kind in KINDS:
        assert kind in out


SCRIPT = (Org().user("alice").scripted("script", call("notes.list"), say("nothing new"))
          .agent("looker", model="script", autonomy="auto", toolsets={"notes": ["notes.list"]}).local_user("alice"))


@pytest.mark.slow
def test_runs_are_metered_and_exported_as_genai_spans_and_metrics(home):
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from meshclaw.runtime import telemetry

    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer = TracerProvider()
    tracer.add_span_processor(SimpleSpanProcessor(spans))
    telemetry.use(tracer, MeterProvider(metric_readers=[reader]))
    try:
        with runtime(home, SCRIPT) as rt:
            first, _ = run(rt, "looker", "anything new in my notes?")
            second, _ = run(rt, "looker", "anything new in my notes?")
            rows = rt.store.usage.for_run(first.run_id)
            both = rows + rt.store.usage.for_run(second.run_id)  # the second run also recalls the first (memory)
            ctx = Context.of_runtime(rt)
            report = ops.my_usage(ctx, Actor.of(ctx.config, "alice"), by="trigger")
    finally:
        telemetry.use(None, None)
    assert first.status == second.status == "succeeded"
    assert len(rows) == 2 and all(r.price == PRICE_FREE and r.step.startswith("agent#") for r in rows)
    assert [k for k, _ in report.rows] == ["manual"] and report.total.sums.requests == 4
    assert [w.kind for w in report.waste] == ["duplicate"]  # the same question twice, nothing done with it

    finished = spans.get_finished_spans()
    assert len(finished) == 4 and finished[0].name == "chat script"
    a = finished[0].attributes
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.provider.name"] == "meshclaw.scripted"
    assert a["gen_ai.request.model"] == "script" and a["gen_ai.usage.input_tokens"] == rows[0].input_tokens
    assert a["gen_ai.usage.output_tokens"] == rows[0].output_tokens
    assert not any("alice" in str(v) or "looker" in str(v) for s in finished for v in s.attributes.values())
    metrics = {m.name: m for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    points = metrics["gen_ai.client.token.usage"].data.data_points
    by_type = {p.attributes["gen_ai.token.type"]: p.sum for p in points}
    assert by_type == {"input": sum(r.input_tokens for r in both), "output": sum(r.output_tokens for r in both)}
    assert "gen_ai.client.operation.duration" in metrics


@pytest.mark.slow
def test_a_configured_otlp_endpoint_receives_a_runs_spans_and_metrics(home):
    """``usage.otlp_endpoint`` in the configuration is what a run exports to (OTLP over HTTP, the SDK's
    own exporters), through the runtime's path, not providers handed in by a test."""
    import http.server
    import threading

    from meshclaw.runtime import telemetry

    received: list[tuple[str, int]] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the standard library's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append((self.path, len(body)))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args):
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = SCRIPT.set("usage", {"otlp_endpoint": f"http://127.0.0.1:{server.server_port}"})
    try:
        with runtime(home, config) as rt:
            done, _ = run(rt, "looker", "anything new in my notes?")
        telemetry.flush()
    finally:
        telemetry.use(None, None)
        server.shutdown()
    assert done.status == "succeeded"
    paths = {p for p, size in received if size > 0}
    assert paths == {"/v1/traces", "/v1/metrics"}, received


def test_the_prometheus_endpoint_exports_released_aggregates_only(home):
    o = Org().user("admin", roles=["admin"]).model("local", "bundled")
    for i in range(5):
        o = o.user(f"p{i}")
    ctx = _ctx(home, o.user("lonely"))
    yesterday = datetime.combine(NOW.date(), time(0), tzinfo=timezone.utc) - timedelta(minutes=1)  # 23:59
    for i in range(5):
        ctx.store.usage.record(f"k{i}", run_id=f"r{i}", agent=f"a{i}", user_id=f"p{i}", model="local",
                               input_tokens=100, output_tokens=20, at=yesterday)
    from meshclaw.domain.errors import NotAuthorized
    from meshclaw.surfaces.metrics import serve

    with pytest.raises(NotAuthorized):
        serve(ctx, Actor.of(ctx.config, "p0"), port=0)
    server = serve(ctx, Actor.of(ctx.config, "admin"), port=0)
    assert server.server_address[0] == "127.0.0.1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def scrape() -> str:
        return urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10).read().decode()

    try:
        body = scrape()
        # Today is still open: five more people's requests today (enough for a cell of its own), and one
        # more request by p0, change no series (else two scrapes would show p0's request).
        for i in range(5):
            ctx.store.usage.record(f"t{i}", run_id=f"rt{i}", agent=f"a{i}", user_id=f"p{i}", model="local",
                                   input_tokens=1000, output_tokens=1, at=NOW)
        between = scrape()
        ctx.store.usage.record("t-more", run_id="rt0", agent="a0", user_id="p0", model="local",
                               input_tokens=777, output_tokens=1)
        after = scrape()
    finally:
        server.shutdown()
        server.server_close()
    assert 'meshclaw_usage_tokens{group="organisation",window="30d"} 600.0' in body
    assert 'meshclaw_usage_tokens{group="organisation",window="1d"} 600.0' in body  # 1d: yesterday, UTC
    assert 'meshclaw_usage_people{group="organisation",window="1d"} 5.0' in body
    assert "p0" not in body and "a0" not in body and "lonely" not in body
    assert "# HELP meshclaw_usage_tokens Input plus output tokens (released aggregates) over closed UTC days: " \
           "each window ends yesterday (UTC), today is never counted" in body
    assert between == body and after == body


def test_the_outcome_kinds_the_configuration_accepts_are_the_ones_counted(home):
    from meshclaw.domain.runs import OUTCOME_KINDS
    from meshclaw.operations.usage_value import KINDS

    assert list(KINDS) == list(OUTCOME_KINDS)


@pytest.mark.parametrize("table, said", [({"bogus_kind": 3}, "unknown outcome kind(s) bogus_kind"),
                                         ({"message_filed": -5}, "greater than or equal to 0")])
def test_config_check_refuses_bad_minutes_saved(home, cli, table, said):
    write_config(home, BASE.set("usage", {"minutes_saved": table}))
    p = cli("config", "check")
    assert p.returncode != 0 and said in p.stderr + p.stdout and "Traceback" not in p.stderr


def test_a_model_with_no_known_price_is_named_in_the_report(home):
    o = BASE.model("mystery", "openai", model="mystery-model-9", base_url="http://127.0.0.1:9/v1")
    o = o.model("priced", "openai", model="x", base_url="http://127.0.0.1:9/v1", price={"input": 1, "output": 2})
    ctx = _ctx(home, o)
    # Usage records the name the provider answered with: here the provider's model name, dated.
    for model in ("mystery-model-9-2026-05-01", "x"):
        ctx.store.usage.record(f"r-{model}", run_id=f"run-{model}", agent="mailer", user_id="alice", model=model,
                               input_tokens=55_000, output_tokens=0)
    notes = ops.my_usage(ctx, Actor.of(ctx.config, "alice"), by="model").notes
    assert [n for n in notes if "no known price" in n] == [
        "model mystery-model-9-2026-05-01 has no known price: its requests count as $0 in every cost here (give it "
        "one: models: mystery: price: {input: ..., output: ...}, per million tokens)"]
