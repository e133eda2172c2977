"""Chat settings and the configuration's chat accounts: clear one-line problems, no secret values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from meshclaw.connectors.chat.settings import ChatSettings
from meshclaw.domain.config import Config
from meshclaw.operations.chat import chat_actor, decision_of_reaction, decision_of_text

GOOD = {"backend": "matrix", "url": "http://127.0.0.1:8008", "account": "@helper:example.com", "token": "secret:t"}


@pytest.mark.parametrize("change, problem", [
    ({"account": "helper"}, "must be a Matrix user id"),
    ({"password": "secret:p"}, "exactly one of 'token'"),
    ({"url": "http://chat.example.com"}, "must use https unless"),
    ({"token": "syt_abc123"}, "secrets are never written into the config"),
    ({"url": None}, "needs 'url'"),
])
def test_bad_matrix_settings_are_refused_with_the_reason(change, problem):
    with pytest.raises(ValidationError) as e:
        ChatSettings.model_validate({**GOOD, **change})
    assert problem in str(e.value)


def test_slack_needs_a_token_and_watch_lists_channels():
    assert ChatSettings.model_validate({"backend": "slack", "token": "env:SLACK", "watch": ["C01"]}).watch == ["C01"]
    with pytest.raises(ValidationError, match="a slack account needs 'token'"):
        ChatSettings.model_validate({"backend": "slack"})


def test_only_the_mapped_account_is_a_user_never_a_name():
    config = Config.model_validate({
        "users": [{"id": "alice", "name": "Alice", "chat": {"matrix": "@alice:example.com"}},
                  {"id": "bob", "name": "Bob", "roles": ["employee", "admin"]}],
        "chat_control": {"backend": "matrix", "url": "https://matrix.example.com", "account": "@meshclaw:example.com",
                         "password": "secret:mc"}})
    assert chat_actor(config, "matrix", "@alice:example.com").user_id == "alice"
    assert chat_actor(config, "matrix", "Alice") is None and chat_actor(config, "slack", "@alice:example.com") is None
    assert chat_actor(config, "matrix", "@bob:example.com") is None


def test_answer_words_and_reactions():
    assert [decision_of_text(w) for w in ("yes", "Approve.", "no", "deny!", "maybe")] == \
        ["approved", "approved", "denied", "denied", None]
    assert [decision_of_reaction(k) for k in ("👍", "+1", "👎", "-1", "🎉")] == ["approved", "approved", "denied", "denied", None]
