"""Talking to durable runs from another process: approvals, cancellation (the kill switch)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .approvals import TOPIC
from .durable import system_database_url


@contextmanager
def dbos_client(home: Path, store_url: str | None) -> Iterator[Any]:
    from dbos import DBOSClient

    url = system_database_url(home, store_url if store_url and store_url.startswith("postgres") else None)
    client = DBOSClient(system_database_url=url)
    try:
        yield client
    finally:
        client.destroy()


def answer_approval(home: Path, store_url: str | None, run_id: str, approval_id: str, decision: str) -> None:
    with dbos_client(home, store_url) as client:
        client.send(run_id, {"decision": decision}, topic=TOPIC.format(id=approval_id),
                    idempotency_key=f"approval-{approval_id}")


def cancel_runs(home: Path, store_url: str | None, run_ids: list[str]) -> None:
    if not run_ids:
        return
    with dbos_client(home, store_url) as client:
        for run_id in run_ids:
            client.cancel_workflow(run_id)
