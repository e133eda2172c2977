"""The Slack Web API wire under the Slack chat backend: errors, the retry rule, one call, shapes.

Every Web API method is called as an HTTP POST through slack_sdk's ``AsyncWebClient`` (reads with
a form body, ``chat.postMessage`` with a JSON body), which Slack accepts for every method.

Retries (rule from the backend protocol, ``backend.ChatBackend``): a read that Slack answers with
HTTP 429 is sent again after the ``Retry-After`` seconds it names, and a read whose connection
failed is sent again after a short backoff; a write (``chat.postMessage``) is never re-sent here —
``SlackBackend.post`` re-sends only once its idempotency check shows the first attempt did not land.

Errors are ``SlackError`` subclasses of the chat connector's errors (``ChatError``: unavailable,
rate-limited, not found, auth failed; all ``ConnectorError``) with one-line messages that name the
method and Slack's error code, never the token (nothing from the request headers is ever quoted).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from meshclaw.connectors.chat.errors import ChatAuthFailed, ChatError, ChatNotFound, ChatRateLimited, ChatUnavailable

# Methods that change nothing (or, like conversations.open, return the same thing when repeated):
# only these are ever sent twice by the retry handler.
READ_METHODS = frozenset({
    "auth.test", "conversations.list", "conversations.history", "conversations.replies",
    "conversations.info", "conversations.open", "users.info", "reactions.get",
})
# The OAuth scopes the backend uses (a Slack app for MeshClaw asks for these).
SCOPES = ("channels:read", "groups:read", "im:read", "mpim:read", "channels:history", "groups:history",
          "im:history", "mpim:history", "chat:write", "im:write", "users:read")
AUTH_CODES = frozenset({"not_authed", "invalid_auth", "account_inactive", "token_revoked", "token_expired",
                        "no_permission", "missing_scope", "not_allowed_token_type", "ekm_access_denied"})
NOT_FOUND_CODES = frozenset({"channel_not_found", "user_not_found", "thread_not_found", "message_not_found",
                             "not_in_channel", "users_not_found", "is_archived"})
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


class SlackError(ChatError):
    """Slack refused or failed a call; ``code`` is Slack's error code (``channel_not_found``) or ``http_NNN``."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class SlackAuthError(SlackError, ChatAuthFailed):
    """The token is missing, wrong, revoked, or lacks a scope the call needs."""


class SlackNotFound(SlackError, ChatNotFound):
    """No such channel, user or message for this account (or the account is not in the channel)."""


class SlackUnavailable(SlackError, ChatUnavailable):
    """Slack could not be reached, timed out, or answered with a server error."""


class SlackRateLimited(SlackError, ChatRateLimited):
    """Slack answered HTTP 429; ``retry_after_s`` (also ``retry_after``) is the wait its Retry-After
    header named (seconds)."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message, "ratelimited")
        self.retry_after_s = self.retry_after = retry_after_s


def api_method(url: str) -> str:
    """``https://slack.com/api/chat.postMessage`` → ``chat.postMessage``."""
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]


def retry_after_s(headers: Any, default: float = 1.0) -> float:
    """The ``Retry-After`` header (seconds, RFC 9110 delay form) of a response, or ``default``.

    ``headers`` is a mapping whose values are strings or lists of strings (slack_sdk's HttpResponse
    keeps lists; aiohttp keeps strings); the name is matched case-insensitively."""
    for name in headers.keys():
        if name.lower() == "retry-after":
            value = headers[name]
            value = value[0] if isinstance(value, list) else value
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return default
    return default


class ReadRetryHandler(AsyncRetryHandler):
    """slack_sdk retry handler: re-sends READ_METHODS only — after HTTP 429, waiting the Retry-After
    seconds (if not more than ``max_wait_s``), at most ``max_retry_count`` times; after a broken or
    refused connection, waiting ``backoff_s`` doubled each time, at most ``max_connection_retries``
    times (0.25 s + 0.5 s by default: a server that is down is reported within a second).

    ``sleep`` is awaited with the wait in seconds (``asyncio.sleep`` unless a test passes another)."""

    def __init__(self, max_retry_count: int = 3, *, max_wait_s: float = 60.0, backoff_s: float = 0.25,
                 max_connection_retries: int = 2, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait_s = max_wait_s
        self.max_connection_retries = max_connection_retries
        self.backoff_s = backoff_s
        self.sleep = sleep

    async def _can_retry_async(self, *, state: RetryState, request: HttpRequest,
                               response: HttpResponse | None = None, error: Exception | None = None) -> bool:
        if api_method(request.url) not in READ_METHODS:
            return False
        if response is not None:
            return response.status_code == 429 and retry_after_s(response.headers) <= self.max_wait_s
        return (isinstance(error, (aiohttp.ClientConnectionError, asyncio.TimeoutError))
                and state.current_attempt < self.max_connection_retries)

    async def prepare_for_next_attempt_async(self, *, state: RetryState, request: HttpRequest,
                                             response: HttpResponse | None = None,
                                             error: Exception | None = None) -> None:
        state.next_attempt_requested = True
        if response is not None:
            wait = retry_after_s(response.headers) + random.uniform(0.0, 0.1)
        else:
            wait = self.backoff_s * (2 ** state.current_attempt)
        await self.sleep(wait)
        state.increment_current_attempt()


def form(value: Any) -> Any:
    """A value as a form field: booleans as ``true``/``false``, numbers as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


async def call(client: AsyncWebClient, method: str, *, json: bool = False, **args: Any) -> dict[str, Any]:
    """Send one Web API call as a POST and return Slack's answer (a dict with ``ok: true``).

    ``json``: send the arguments as a JSON body (needed for nested values such as ``metadata``).
    Raises SlackAuthError, SlackNotFound, SlackRateLimited, SlackUnavailable or SlackError."""
    body = {k: v for k, v in args.items() if v is not None}
    host = urlsplit(client.base_url).netloc or client.base_url
    try:
        if json:
            response = await client.api_call(method, http_verb="POST", json=body)
        else:
            response = await client.api_call(method, http_verb="POST", data={k: form(v) for k, v in body.items()})
    except SlackApiError as e:
        raise api_error(method, e.response.status_code, e.response.headers, e.response.data) from None
    except asyncio.TimeoutError:
        raise SlackUnavailable(f"Slack at {host} did not answer {method} in time", "timeout") from None
    except aiohttp.ClientConnectorError as e:
        errno = getattr(e.os_error, "errno", None)
        reason = os.strerror(errno).lower() if errno else type(e).__name__
        raise SlackUnavailable(f"Slack at {host} cannot be reached ({method}): {reason}", "unreachable") from None
    except (aiohttp.ClientError, OSError) as e:
        raise SlackUnavailable(f"Slack at {host} broke off {method}: {type(e).__name__}", "connection") from None
    return response.data if isinstance(response.data, dict) else {}


def api_error(method: str, status: int, headers: Any, data: Any) -> SlackError:
    """Map one failed answer (HTTP ``status``, its ``headers``, the decoded body) to a SlackError."""
    code = data.get("error") if isinstance(data, dict) else None
    if status == 429 or code == "ratelimited":
        wait = retry_after_s(headers or {})
        return SlackRateLimited(f"Slack rate-limited {method}: retry after {wait:g} s", wait)
    if not code:
        kind = SlackUnavailable if status >= 500 else SlackError
        return kind(f"Slack {method} failed with HTTP {status}", f"http_{status}")
    code = str(code)[:80]
    if code in AUTH_CODES:
        needed = data.get("needed") if isinstance(data, dict) else None
        extra = f" (needs scope {needed})" if code == "missing_scope" and needed else ""
        return SlackAuthError(f"Slack refused the token for {method}: {code}{extra}", code)
    if code in NOT_FOUND_CODES:
        return SlackNotFound(f"Slack {method}: {code}", code)
    kind = SlackUnavailable if code in {"internal_error", "fatal_error", "service_unavailable", "request_timeout"} else SlackError
    return kind(f"Slack {method} failed: {code}", code)


def sent_at(ts: str) -> datetime:
    """A Slack message ``ts`` ("1712345678.000200", seconds since the epoch) as aware UTC."""
    return datetime.fromtimestamp(float(ts), tz=timezone.utc)


def thread_of(message: dict[str, Any]) -> str | None:
    """The root ``ts`` of the thread a message replies in; None for a thread root or a plain message."""
    root = message.get("thread_ts")
    return root if root and root != message.get("ts") else None


def mentions(text: str) -> tuple[str, ...]:
    """Server user ids mentioned as ``<@U123>`` (or ``<@U123|name>``) in a message's text, in order."""
    seen: list[str] = []
    for user in MENTION.findall(text or ""):
        if user not in seen:
            seen.append(user)
    return tuple(seen)
