"""Personal API tokens: shown once, stored as a digest, bound to one user; made for others by admins
only; revoked or expired ones refused with the reason, on the record."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from meshclaw.domain.config_file import load_config
from meshclaw.domain.errors import NotAuthorized, NotFound, UsageError
from meshclaw.operations.actor import Actor
from meshclaw.operations.context import Context
from meshclaw.operations.tokens import authenticate, create_token, list_tokens, parse_expiry, revoke_token
from meshclaw.store.facade import Store
from meshclaw.store.tables import ApiToken
from tests.builders import Org, say
from tests.cli_support import in_process

ORG = (Org().user("alice").user("bob").user("root", roles=["admin"]).user("eve", roles=["auditor"])
       .scripted("hello", say("hi")).agent("greeter", owner="alice", model="hello"))


@pytest.fixture
def ctx(home):  # type: ignore[no-untyped-def]
    ORG.local_user("alice").write(home)
    return Context(load_config(home / "meshclaw.yaml"), Store(home), home)


def actor(ctx, user):  # type: ignore[no-untyped-def]
    return Actor.of(ctx.config, user)


def operations(ctx, name):  # type: ignore[no-untyped-def]
    return [r for r in ctx.store.audit.records(kind="operation") if r.data.get("operation") == name]


def test_a_token_is_shown_once_and_only_its_digest_is_kept(ctx):
    made = create_token(ctx, actor(ctx, "alice"), name="laptop", expires="30d")
    assert made.token.startswith("mcl_") and len(made.token) == 47
    assert made.info.user_id == "alice" and made.info.state == "active"
    assert timedelta(days=29, hours=23) < made.info.expires_at - datetime.now(timezone.utc) <= timedelta(days=30)
    with ctx.store.db.session() as s:
        [row] = s.scalars(select(ApiToken)).all()
        assert row.token_hash == hashlib.sha256(made.token.encode()).hexdigest()
        assert made.token not in json.dumps({c.name: str(getattr(row, c.name)) for c in ApiToken.__table__.columns})
    assert authenticate(ctx, made.token, surface="test") == (actor(ctx, "alice"), made.info.id)
    [created] = operations(ctx, "token-create")
    assert created.data["token_id"] == made.info.id and made.token not in json.dumps(created.data)
    assert list_tokens(ctx, actor(ctx, "alice"))[0].last_used_at is not None


def test_only_an_admin_makes_or_revokes_a_token_for_someone_else(ctx):
    with pytest.raises(NotAuthorized, match="alice may not make a token for bob: only an admin may"):
        create_token(ctx, actor(ctx, "alice"), user="bob")
    assert [r.verdict for r in operations(ctx, "token-create")] == ["refused"]
    assert list_tokens(ctx, actor(ctx, "root")) == []  # nothing was made
    bobs = create_token(ctx, actor(ctx, "root"), user="bob", name="for bob")
    assert bobs.info.user_id == "bob" and bobs.info.created_by == "root"
    with pytest.raises(NotFound):
        create_token(ctx, actor(ctx, "root"), user="mallory")
    with pytest.raises(NotAuthorized, match="alice may not revoke bob's token"):
        revoke_token(ctx, actor(ctx, "alice"), bobs.info.id)
    assert authenticate(ctx, bobs.token, surface="test")[0].user_id == "bob"  # still good
    assert revoke_token(ctx, actor(ctx, "bob"), bobs.info.id).state == "revoked"


def test_who_lists_whose_tokens(ctx):
    create_token(ctx, actor(ctx, "alice"), name="a")
    create_token(ctx, actor(ctx, "bob"), name="b")
    assert [t.name for t in list_tokens(ctx, actor(ctx, "alice"))] == ["a"]
    assert sorted(t.name for t in list_tokens(ctx, actor(ctx, "eve"))) == ["a", "b"]  # an auditor reads all
    assert [t.name for t in list_tokens(ctx, actor(ctx, "root"), user="bob")] == ["b"]
    with pytest.raises(NotAuthorized):
        list_tokens(ctx, actor(ctx, "alice"), user="bob")


def test_refused_presentations_say_why_and_are_audited(ctx):
    alice = actor(ctx, "alice")
    revoked = create_token(ctx, alice, name="r")
    revoke_token(ctx, alice, revoked.info.id)
    expired = create_token(ctx, alice, name="e", expires="1h")
    with ctx.store.db.session() as s:
        s.get(ApiToken, expired.info.id).expires_at = datetime.now(timezone.utc) - timedelta(minutes=1)
    cases = [(None, "no token"), ("Bearer abc", "not a MeshClaw token"), ("mcl_unknown", "unknown token"),
             (revoked.token, f"token {revoked.info.id} was revoked"), (expired.token, f"token {expired.info.id} expired")]
    for token, why in cases:
        with pytest.raises(NotAuthorized) as e:
            authenticate(ctx, token, surface="mcp-http")
        assert str(e.value).startswith(why)
    refused = operations(ctx, "authenticate")
    assert len(refused) == 5 and all(r.verdict == "refused" and r.data["surface"] == "mcp-http" for r in refused)
    assert [r.data["token_id"] for r in refused] == [None, None, None, revoked.info.id, expired.info.id]
    assert [r.user_id for r in refused][3:] == ["alice", "alice"]  # in alice's own audit view


def test_a_token_of_a_user_who_left_the_configuration_is_refused(ctx, home):
    made = create_token(ctx, actor(ctx, "bob"))
    gone = Context(load_config(ORG.write(home)), ctx.store, home)
    gone.config.users[:] = [u for u in gone.config.users if u.id != "bob"]
    with pytest.raises(NotAuthorized, match="belongs to 'bob', who is no longer a user"):
        authenticate(gone, made.token, surface="test")


@pytest.mark.parametrize("text, seconds", [("30d", 30 * 86400), ("12h", 12 * 3600), ("90m", 5400), ("2w", 14 * 86400),
                                           ("never", None), (" 7D ", 7 * 86400)])
def test_expiry_words(text, seconds):
    got = parse_expiry(text)
    assert (None if got is None else got.total_seconds()) == seconds


@pytest.mark.parametrize("text", ["", "0d", "soon", "30", "-1d", "1y"])
def test_bad_expiry_is_a_usage_error(text):
    with pytest.raises(UsageError, match="an expiry is a number with m, h, d or w"):
        parse_expiry(text)


def test_tokens_commands(ctx, home):
    made = in_process(("tokens", "create", "--name", "editor", "--expires", "7d"), {})
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("mcl_") and "only time it is shown" in made.stderr and token not in made.stderr
    listed = in_process(("tokens", "list"), {})
    assert "editor" in listed.stdout and "active" in listed.stdout and token not in listed.stdout
    [info] = json.loads(in_process(("tokens", "list", "--json"), {}).stdout)
    assert info["user"] == "alice" and "token" not in info
    other = in_process(("tokens", "create", "--user", "bob"), {})
    assert other.returncode == 3 and "alice may not make a token for bob" in other.stderr and other.stdout == ""
    bad = in_process(("tokens", "create", "--expires", "soon"), {})
    assert bad.returncode == 2 and "an expiry is a number" in bad.stderr
    revoked = in_process(("tokens", "revoke", info["id"]), {})
    assert revoked.returncode == 0 and f"revoked token {info['id']} of alice" in revoked.stdout
    assert "revoked" in in_process(("tokens", "list"), {}).stdout
    assert in_process(("tokens", "revoke", "nope"), {}).returncode == 2
