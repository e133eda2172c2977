"""Secrets: a secret added to the file while a process runs is found, and every secret is redacted."""

from __future__ import annotations

import os

import pytest

from meshclaw.domain.secrets import SecretMissing, Secrets
from meshclaw.store.facade import Store


def test_a_secret_added_to_the_file_later_is_found_without_a_restart(tmp_path):
    path = tmp_path / "secrets.env"
    path.write_text("IMAP_PASSWORD=first-password\n")
    secrets = Secrets(path)
    assert secrets.resolve("secret:IMAP_PASSWORD") == "first-password"
    with pytest.raises(SecretMissing, match="CALDAV_PASSWORD"):
        secrets.resolve("secret:CALDAV_PASSWORD")
    path.write_text("IMAP_PASSWORD=second-password\nCALDAV_PASSWORD=calendar-password\n")
    assert secrets.resolve("secret:CALDAV_PASSWORD") == "calendar-password"
    assert secrets.resolve("secret:IMAP_PASSWORD") == "second-password"


def test_environment_secrets_are_redacted_like_file_secrets(tmp_path, monkeypatch):
    path = tmp_path / "secrets.env"
    path.write_text("")
    secrets = Secrets(path)
    monkeypatch.setenv("SMTP_TOKEN", "env-token-value-1234")
    store = Store(tmp_path / "home", secret_values=secrets.values)
    assert secrets.resolve("env:SMTP_TOKEN") == "env-token-value-1234"
    path.write_text("LATE_SECRET=added-after-the-store-opened\n")
    store.audit.append("k1", "call", data={"error": "login as env-token-value-1234 failed; added-after-the-store-opened"})
    [record] = store.audit.records()
    assert "env-token-value-1234" not in str(record.data) and "added-after-the-store-opened" not in str(record.data)
    assert record.data["error"].count("[redacted]") == 2
    assert os.environ["SMTP_TOKEN"] == "env-token-value-1234"  # redaction never touches the source


def test_a_secret_typed_into_a_task_is_never_stored_shown_or_given_to_the_agent(tmp_path):
    from tests.builders import Org, say
    from tests.runtime_support import run, runtime

    home = tmp_path / "home"
    home.mkdir()
    (home / "secrets.env").write_text("DEPLOY_TOKEN=tok-8f3a9c2e71\n")
    org = (Org().user("alice", email="alice@example.com").scripted("script", say("done"))
           .agent("keeper", model="script", autonomy="auto", toolsets={"notes": ["notes.add"]}))
    with runtime(home, org) as rt:
        outcome, _ = run(rt, "keeper", "use the token tok-8f3a9c2e71 to check the deploy")
        stored = rt.store.runs.get(outcome.run_id)
        assert stored.task == "use the token [redacted] to check the deploy"
        started = [r for r in rt.store.audit.records(run_id=outcome.run_id) if r.kind == "run"]
        assert started and all("tok-8f3a9c2e71" not in str(r.data) for r in started)
