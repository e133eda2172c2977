"""Faults of the Slack chat backend: a refused token, Slack gone, rate limiting (Retry-After) and a
post whose answer was lost — never a second post, never the token in a message.

The emulator cannot rate-limit the way Slack does (it answers HTTP 403 after 5,000 calls an hour),
so the 429 below is Slack's rate-limited answer as its documentation gives it
(https://docs.slack.dev/apis/web-api/rate-limits: status 429, a ``Retry-After`` header in seconds,
body ``{"ok": false, "error": "ratelimited"}``), parsed from the HTTP text, fed to our retry handler
as slack_sdk would, and, for posts, put in front of the real emulator for the first attempt.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from meshclaw.connectors.chat.slack import SlackAuthError, SlackBackend, SlackRateLimited, SlackUnavailable
from meshclaw.connectors.chat.slack_wire import ReadRetryHandler
from meshclaw.connectors.chat.errors import ChatAuthFailed, ChatRateLimited, ChatUnavailable
from meshclaw.domain.errors import ConnectorError
from tests.servers.slack_emulator import slack_emulator, start_slack_emulator  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow  # a real emulator process (node)

RATE_LIMITED = (
    "HTTP/1.1 429 Too Many Requests\r\n"
    "Content-Type: application/json; charset=utf-8\r\n"
    "Retry-After: 30\r\n"
    "\r\n"
    '{"ok":false,"error":"ratelimited"}'
)


def recorded(raw: str) -> tuple[int, dict[str, str], dict]:
    head, body = raw.split("\r\n\r\n", 1)
    status_line, *header_lines = head.split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, json.loads(body)


class Sleeps:
    """Records the waits asked for instead of waiting them out."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def run(coro):
    return asyncio.run(coro)


def assert_clean(error: BaseException, *secrets: str) -> None:
    text = f"{error} {error!r} {error.args!r}"
    assert isinstance(error, ConnectorError)
    assert "\n" not in str(error) and str(error).strip()
    for secret in secrets:
        assert secret not in text
    assert error.__cause__ is None and error.__suppress_context__  # no library error (with its request) chained


def fail_first(backend: SlackBackend, method: str, how: str, times: int = 1) -> list[str]:
    """Make the first ``times`` ``method`` calls of ``backend`` fail ``how`` ("429": Slack's recorded
    answer, not sent on; "lost": sent to the emulator, then the connection breaks before the answer)."""
    real = backend._client.api_call
    calls: list[str] = []

    async def api_call(api_method, **kwargs):
        calls.append(api_method)
        if api_method == method and calls.count(method) <= times:
            if how == "429":
                status, headers, body = recorded(RATE_LIMITED)
                AsyncSlackResponse(client=backend._client, http_verb="POST", api_url=backend._client.base_url + method,
                                   req_args={}, data=body, headers=headers, status_code=status).validate()
            await real(api_method, **kwargs)
            raise aiohttp.ServerDisconnectedError()
        return await real(api_method, **kwargs)

    backend._client.api_call = api_call
    return calls


def test_a_refused_token_is_a_one_line_auth_error_without_the_token(slack_emulator):
    token = slack_emulator.tokens["orphan"]
    with pytest.raises(SlackAuthError) as refused:
        run(SlackBackend.connect(token=token, base_url=slack_emulator.api_url))
    assert "invalid_auth" in str(refused.value) and isinstance(refused.value, ChatAuthFailed)
    assert_clean(refused.value, token, token[5:])
    with pytest.raises(SlackAuthError):
        run(SlackBackend.connect(token="  ", base_url=slack_emulator.api_url))


def test_a_missing_scope_names_the_scope(slack_emulator):
    token = slack_emulator.tokens["no_dm"]

    async def go():
        backend = await SlackBackend.connect(token=token, base_url=slack_emulator.api_url)
        try:
            with pytest.raises(SlackAuthError) as refused:
                await backend.direct_message(slack_emulator.user_ids["bob"], "hi", idempotency_key="scope-1")
            return refused.value
        finally:
            await backend.close()

    refused = run(go())
    assert "missing_scope" in str(refused) and "im:write" in str(refused)
    assert_clean(refused, token)


def test_slack_gone_is_a_clear_error_for_reads_and_posts():
    emu = start_slack_emulator()
    token = emu.tokens["agent"]

    async def go():
        backend = await SlackBackend.connect(token=token, base_url=emu.api_url)
        try:
            channel = emu.channels["team"]
            emu.stop()
            with pytest.raises(SlackUnavailable) as on_read:
                await backend.list_channels()
            with pytest.raises(SlackUnavailable) as on_post:
                await backend.post(channel, "anyone there?", idempotency_key="gone-1")
            return on_read.value, on_post.value
        finally:
            await backend.close()

    try:
        on_read, on_post = run(go())
    finally:
        emu.stop()
    assert "cannot be reached" in str(on_read) and f"127.0.0.1:{emu.port}" in str(on_read)
    assert isinstance(on_read, ChatUnavailable) and isinstance(on_post, ChatUnavailable)
    assert_clean(on_read, token)
    assert_clean(on_post, token)
    with pytest.raises(SlackUnavailable, match="cannot be reached"):
        run(SlackBackend.connect(token=token, base_url=emu.api_url))


def test_the_retry_handler_honours_retry_after_for_reads_only():
    status, headers, body = recorded(RATE_LIMITED)
    response = HttpResponse(status_code=status, headers=headers, body=body)
    sleeps = Sleeps()
    handler = ReadRetryHandler(max_wait_s=60, sleep=sleeps)

    def request(method: str) -> HttpRequest:
        return HttpRequest(method="POST", url=f"https://slack.com/api/{method}", headers={})

    async def go():
        state = RetryState()
        read = await handler.can_retry_async(state=state, request=request("conversations.history"), response=response)
        post = await handler.can_retry_async(state=state, request=request("chat.postMessage"), response=response)
        await handler.prepare_for_next_attempt_async(state=state, request=request("conversations.history"),
                                                     response=response)
        patient = await ReadRetryHandler(max_wait_s=10, sleep=sleeps).can_retry_async(
            state=RetryState(), request=request("conversations.history"), response=response)
        broken = aiohttp.ServerDisconnectedError()
        read_broken = await handler.can_retry_async(state=RetryState(), request=request("users.info"), error=broken)
        post_broken = await handler.can_retry_async(state=RetryState(), request=request("chat.postMessage"), error=broken)
        spent = RetryState()
        spent.current_attempt = handler.max_retry_count
        exhausted = await handler.can_retry_async(state=spent, request=request("conversations.history"), response=response)
        return read, post, state.current_attempt, patient, read_broken, post_broken, exhausted

    read, post, attempts, patient, read_broken, post_broken, exhausted = run(go())
    assert read and not post  # a read is re-sent after a 429; a post never by the handler
    assert attempts == 1 and len(sleeps.waits) == 1 and 30 <= sleeps.waits[0] < 30.2
    assert not patient  # a wait longer than max_wait_s is not waited out
    assert read_broken and not post_broken and not exhausted


def test_a_rate_limited_post_waits_retry_after_then_posts_once(slack_emulator):
    emu = slack_emulator
    channel = emu.new_channel("limited", "agent", "bob")
    sleeps = Sleeps()

    async def go():
        backend = await SlackBackend.connect(token=emu.tokens["agent"], base_url=emu.api_url, sleep=sleeps)
        try:
            calls = fail_first(backend, "chat.postMessage", "429")
            posted = await backend.post(channel, "nightly summary", idempotency_key="limited-1")
            return posted, calls
        finally:
            await backend.close()

    posted, calls = run(go())
    assert sleeps.waits == [30.0]
    # Looked for the key, was refused, waited, looked again (nothing had landed), posted.
    wire = [c for c in calls if c in ("conversations.history", "chat.postMessage")]
    assert wire == ["conversations.history", "chat.postMessage", "conversations.history", "chat.postMessage"]
    seen = emu.call("bob", "conversations.history", channel=channel)["messages"]
    assert [m["text"] for m in seen] == ["nightly summary"] and seen[0]["ts"] == posted.message_id


def test_a_rate_limit_longer_than_allowed_is_an_error_and_nothing_is_posted(slack_emulator):
    emu = slack_emulator
    channel = emu.new_channel("toolong", "agent", "bob")
    sleeps = Sleeps()

    async def go():
        backend = await SlackBackend.connect(token=emu.tokens["agent"], base_url=emu.api_url, sleep=sleeps,
                                             max_wait_s=10)
        try:
            fail_first(backend, "chat.postMessage", "429")
            with pytest.raises(SlackRateLimited) as limited:
                await backend.post(channel, "nightly summary", idempotency_key="toolong-1")
            return limited.value
        finally:
            await backend.close()

    limited = run(go())
    assert limited.retry_after_s == 30 and "retry after 30 s" in str(limited) and sleeps.waits == []
    assert isinstance(limited, ChatRateLimited) and limited.retry_after == 30
    assert_clean(limited, emu.tokens["agent"])
    assert emu.call("bob", "conversations.history", channel=channel)["messages"] == []


def test_a_post_rate_limited_every_time_gives_up_after_three_attempts(slack_emulator):
    emu = slack_emulator
    channel = emu.new_channel("always", "agent", "bob")
    sleeps = Sleeps()

    async def go():
        backend = await SlackBackend.connect(token=emu.tokens["agent"], base_url=emu.api_url, sleep=sleeps)
        try:
            calls = fail_first(backend, "chat.postMessage", "429", times=100)
            with pytest.raises(SlackRateLimited):
                await backend.post(channel, "nightly summary", idempotency_key="always-1")
            return calls
        finally:
            await backend.close()

    calls = run(go())
    assert calls.count("chat.postMessage") == 3 and sleeps.waits == [30.0, 30.0]
    assert emu.call("bob", "conversations.history", channel=channel)["messages"] == []


def test_a_post_whose_answer_was_lost_is_found_not_sent_again(slack_emulator):
    emu = slack_emulator
    channel = emu.new_channel("lost", "agent", "bob")

    async def go():
        backend = await SlackBackend.connect(token=emu.tokens["agent"], base_url=emu.api_url)
        try:
            calls = fail_first(backend, "chat.postMessage", "lost")
            posted = await backend.post(channel, "deployed v2", idempotency_key="lost-1")
            again = await backend.post(channel, "deployed v2", idempotency_key="lost-1")
            return posted, again, calls
        finally:
            await backend.close()

    posted, again, calls = run(go())
    assert calls.count("chat.postMessage") == 1
    seen = emu.call("bob", "conversations.history", channel=channel)["messages"]
    assert [m["text"] for m in seen] == ["deployed v2"]
    assert posted.message_id == again.message_id == seen[0]["ts"]
