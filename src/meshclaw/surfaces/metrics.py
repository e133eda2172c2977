"""The Prometheus endpoint: organisation usage aggregates, on 127.0.0.1 only.

Exports, per group (``organisation``, ``team:M``) and window, exactly what
``operations.usage.org_usage`` releases under the k rule: tokens, cost, requests, accepted outcomes,
minutes saved and the number of people counted. Windows end at the last closed UTC day (yesterday,
UTC; today is still changing and is never counted: ``operations.usage_privacy``, rule 5): ``1d`` is
that day, ``30d`` the 30 days ending on it. No per-person or per-agent series exist. Serving needs
an admin or auditor; starting it is audited once (``usage.metrics``), each scrape is not.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from meshclaw.domain.errors import NotAuthorized
from meshclaw.operations.actor import Actor
from meshclaw.operations.context import Context
from meshclaw.operations.journal import REFUSED, record

WINDOWS = {"1d": 1, "30d": 30}  # closed UTC days, ending yesterday
CLOSED = " over closed UTC days: each window ends yesterday (UTC), today is never counted"


class UsageCollector:
    """A prometheus_client collector reading the released aggregates at each scrape."""

    def __init__(self, ctx: Context, actor: Actor, groups: list[str] | None = None):
        self.ctx, self.actor, self.groups = ctx, actor, groups

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import GaugeMetricFamily

        from meshclaw.operations.usage import org_groups, org_usage

        labels = ["group", "window"]
        families = {key: GaugeMetricFamily(name, text + CLOSED, labels=labels) for key, name, text in (
            ("tokens", "meshclaw_usage_tokens", "Input plus output tokens (released aggregates)"),
            ("cost", "meshclaw_usage_cost", "Cost in the configured currency (released aggregates)"),
            ("requests", "meshclaw_usage_requests", "Model requests (released aggregates)"),
            ("accepted", "meshclaw_usage_accepted_outcomes", "Accepted outcomes (released aggregates)"),
            ("minutes", "meshclaw_usage_minutes_saved", "Minutes saved by accepted outcomes (released aggregates)"),
            ("people", "meshclaw_usage_people", "People counted in the released cells"),
        )}
        last = datetime.now(timezone.utc).date() - timedelta(days=1)  # the last closed day
        groups = self.groups or sorted(org_groups(self.ctx, self.actor))
        for window, days in WINDOWS.items():
            since = last - timedelta(days=days - 1)
            known = org_groups(self.ctx, self.actor, since=since, until=last)
            for g in (g for g in groups if g in known):  # a team that ended earlier in 30d has no 1d series
                r = org_usage(self.ctx, self.actor, group=g, since=since, until=last, audited=False)
                s = r.total.sums
                for key, value in (("tokens", s.tokens), ("cost", s.cost), ("requests", s.requests),
                                   ("accepted", r.total.accepted), ("minutes", r.total.minutes_saved),
                                   ("people", r.people or 0)):
                    families[key].add_metric([g, window], float(value))
        yield from families.values()


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        return


def serve(ctx: Context, actor: Actor, *, port: int = 9464, groups: list[str] | None = None) -> WSGIServer:
    """A WSGI server on 127.0.0.1:``port`` (0: any free port) answering ``/metrics``; the caller runs
    ``serve_forever``. Raises NotAuthorized (audited) unless ``actor`` is an admin or auditor, UsageError
    for a group ``org_groups`` does not know (as ``usage --org --group`` does), OSError when the port
    cannot be bound."""
    from prometheus_client import CollectorRegistry, make_wsgi_app

    from meshclaw.operations.usage import check_groups, org_groups

    if not actor.reads_everything:
        record(ctx, actor, "usage.metrics", verdict=REFUSED, reason="usage metrics are for admins and auditors")
        raise NotAuthorized(f"{actor.user_id} may not serve usage metrics: only an admin or auditor may")
    check_groups(groups or [], org_groups(ctx, actor))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(UsageCollector(ctx, actor, groups))  # type: ignore[arg-type]
    server = make_server("127.0.0.1", port, make_wsgi_app(registry), handler_class=_Quiet)
    record(ctx, actor, "usage.metrics", port=server.server_port, groups=groups or "all")
    from .long_lived import freeze_startup_objects

    freeze_startup_objects()  # every scrape is a report: its full garbage collections skip start-up's objects
    return server
