"""The organisation's configuration: people, model providers and agents, validated with pydantic.

Secrets never appear here: a config names them (``env:NAME`` or ``secret:NAME``) and the runtime
resolves them when it needs them.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from .errors import NotFound
from .grants import Grant
from .mcp_config import EffectsMap, McpServerConfig, SensitiveMap, check_mcp_keys

NAME = r"^[a-z][a-z0-9_-]{0,62}$"
LOGIN = r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$"  # an operating-system login name (POSIX portable, plus '@')
SECRET_REF = re.compile(r"^(env|secret):[A-Za-z_][A-Za-z0-9_.-]*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_secret_ref(value: str | None) -> str | None:
    if value is None or SECRET_REF.match(value):
        return value
    raise ValueError(
        "secrets are never written into the config: name one as 'env:VARIABLE' or 'secret:NAME' "
        "(NAME is looked up in the secrets file)"
    )


SecretRef = Annotated[str, AfterValidator(check_secret_ref)]


def check_time_zone(value: str | None) -> str | None:
    """An IANA time zone name (``Europe/Paris``), checked against the system's zone database."""
    if value is None:
        return value
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(value)
    except Exception:  # noqa: BLE001 - any lookup failure means the name is unknown
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Paris)") from None
    return value


TimeZoneName = Annotated[str, AfterValidator(check_time_zone)]


class Organisation(Strict):
    name: str = "My organisation"
    domains: list[str] = Field(default_factory=list, description="mail domains that belong to the organisation")
    timezone: TimeZoneName = Field(default="UTC", description="the organisation's default time zone (IANA name)")


class Budget(Strict):
    """Spending limits that fail closed. Each is optional; tokens count input plus output."""

    tokens_per_day: int | None = Field(default=None, ge=0)
    tokens_per_month: int | None = Field(default=None, ge=0)
    cost_per_day: float | None = Field(default=None, ge=0)
    cost_per_month: float | None = Field(default=None, ge=0)

    def limits(self) -> list[tuple[str, str, float]]:
        """(period, unit, limit) for every limit that is set."""
        out = []
        for period in ("day", "month"):
            for unit in ("tokens", "cost"):
                value = getattr(self, f"{unit}_per_{period}")
                if value is not None:
                    out.append((period, unit, value))
        return out


class ManagerPeriod(Strict):
    """An earlier manager of a user, from ``valid_from`` (a date, in the organisation's calendar) until
    the next period or ``manager_since``. ``manager`` None: nobody managed the user then."""

    manager: str | None = None
    valid_from: date


class User(Strict):
    id: Annotated[str, Field(pattern=NAME)]
    name: str
    email: str | None = None
    manager: str | None = None
    manager_since: date | None = Field(default=None, description=(
        "the day 'manager' became this user's manager (needed when manager_history is given); unset: from the "
        "day MeshClaw first saw this manager named, or always for the first manager it saw"))
    manager_history: list[ManagerPeriod] = Field(default_factory=list, description=(
        "earlier managers, each from its valid_from: who could read this user's usage figures, and when"))
    timezone: TimeZoneName | None = Field(default=None, description="the person's time zone; the organisation's if unset")
    roles: list[Literal["employee", "manager", "admin", "auditor"]] = Field(default_factory=lambda: ["employee"])
    delegates: list[str] = Field(default_factory=list, description=(
        "user ids who may act for this user's agents (approve their calls, promote, stop and start them)"))
    budget: Budget = Field(default_factory=Budget)
    chat: dict[Literal["matrix", "slack"], str] = Field(default_factory=dict, description=(
        "this person's verified chat account per backend ({matrix: '@alice:example.com', slack: 'U0123'}): "
        "the server user id, never a display name; what the chat control channel answers to"))
    approvals_per_day: int = Field(default=20, ge=1, description=(
        "approval requests this person expects a day; beyond it each request still waits for them, "
        "marked as over budget, and an alert says which agent asks too often"))


# --- chat accounts ---------------------------------------------------------------------------


class ChatAccount(Strict):
    """A chat account MeshClaw logs in as (an agent's ``chat`` toolset, or the control channel's).

    ``backend``: matrix, slack, or sandbox (a workplace kept in the store: ``workplace``); ``url``: the homeserver (Matrix) or Web API base (Slack; default
    https://slack.com/api/); ``account``: the account's server user id (Matrix ``@bot:example.com``);
    ``token``/``password``: secret references (Matrix takes either; Slack a bot token);
    ``device_id``: kept stable so that a re-sent message is recognised by the server (Matrix
    transaction ids are scoped to an access token and device).
    """

    backend: Literal["matrix", "slack", "sandbox"]
    url: str | None = None
    account: str | None = None
    workplace: str | None = Field(default=None, description="with backend sandbox: the workplace's name (e.g. demo)")
    token: SecretRef | None = None
    password: SecretRef | None = None
    device_id: str = Field(default="MESHCLAW", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    timeout: float = Field(default=30.0, gt=0, description="seconds for each request to the chat server")

    @model_validator(mode="after")
    def complete(self) -> "ChatAccount":
        from urllib.parse import urlsplit

        from .network import is_loopback

        if self.backend == "sandbox":
            if not self.workplace:
                raise ValueError("backend 'sandbox' needs the workplace's name (workplace: demo)")
            if self.url or self.account or self.token or self.password:
                raise ValueError("backend 'sandbox' keeps chat in a workplace: remove url, account, token and password")
            return self
        if self.workplace is not None:
            raise ValueError("workplace is only for backend 'sandbox'")
        if self.backend == "matrix":
            if not self.url or not self.account:
                raise ValueError("a matrix account needs 'url' (the homeserver) and 'account' (@user:server)")
            if not re.fullmatch(r"@[^:\s]+:\S+", self.account):
                raise ValueError(f"account must be a Matrix user id like @agent:example.com, not {self.account!r}")
            if (self.token is None) == (self.password is None):
                raise ValueError("a matrix account needs exactly one of 'token' (access token) or 'password'")
        elif self.token is None:
            raise ValueError("a slack account needs 'token' (a bot token reference)")
        if self.url is not None:
            parts = urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"url must be a full http(s) URL, not {self.url!r}")
            if parts.scheme == "http" and not is_loopback(parts.hostname):
                raise ValueError("url must use https unless the chat server is on this machine (127.0.0.1, ::1, localhost)")
        return self


class ChatControl(ChatAccount):
    """The control channel: the account owners message (direct messages) to run, ask about and stop
    their agents, and where approval requests are sent. Only an account in a user's ``chat`` map
    (or that user's delegates') is answered."""

    poll_seconds: float = Field(default=2.0, gt=0, le=60, description="how often new approval requests are looked for")


class UsageSettings(Strict):
    """How usage is measured and shown (``operations/usage.py``; ``meshclaw usage explain`` prints the rules)."""

    min_group_size: int = Field(default=5, ge=3, description=(
        "k: an organisation figure covers at least this many people (never below 3)"))
    retention_days: int = Field(default=90, ge=1, description=(
        "raw usage events older than this may be pruned; daily totals are kept, so no reported figure changes"))
    minutes_saved: dict[str, Annotated[float, Field(ge=0, le=1440)]] = Field(default_factory=dict, description=(
        "minutes a person saves per accepted outcome, by outcome kind (see `meshclaw usage explain`); "
        "kinds not given keep their default"))
    otlp_endpoint: str | None = Field(default=None, description=(
        "an OTLP/HTTP collector (e.g. http://127.0.0.1:4318) to export GenAI spans and metrics to; unset: none"))
    duplicate_window_minutes: int = Field(default=60, ge=1, description=(
        "two runs of one agent with (nearly) the same task within this many minutes count as duplicates"))
    jump_factor: float = Field(default=2.0, gt=1, description=(
        "tokens per outcome this many times an agent's earlier level is flagged as a sudden jump"))

    @field_validator("otlp_endpoint")
    @classmethod
    def _collector_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        m = re.fullmatch(r"https?://([^/\s:@]+|\[[0-9a-fA-F:.]+\])(:\d{1,5})?(/[^\s]*)?", value.strip())
        if m is None:
            raise ValueError(f"{value!r} is not an http(s) URL of an OTLP/HTTP collector (e.g. http://127.0.0.1:4318)")
        return value.strip()

    @field_validator("minutes_saved")
    @classmethod
    def _known_kinds(cls, value: dict[str, float]) -> dict[str, float]:
        from .runs import OUTCOME_KINDS

        unknown = sorted(set(value) - set(OUTCOME_KINDS))
        if unknown:
            raise ValueError(f"unknown outcome kind(s) {', '.join(unknown)}: the kinds are {', '.join(OUTCOME_KINDS)}")
        return value


# --- model providers -------------------------------------------------------------------------


class Price(Strict):
    """What a model costs, per million tokens, in the organisation's currency (cost budgets count in it)."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0, description="unset: the input price")


class BundledModel(Strict):
    kind: Literal["bundled"]
    context: int = 8192
    threads: int = 2
    # Seconds one request may take. A cold first request on 2 cores (the whole prompt processed, the
    # model loaded) was measured at 116-148 s; 300 leaves room. Raise it on a slower machine.
    timeout: float = Field(default=300.0, gt=0)


class OpenAICompatibleModel(Strict):
    kind: Literal["openai"]
    model: str
    base_url: str | None = None
    api_key: SecretRef | None = None
    timeout: float = 60.0
    temperature: float | None = Field(default=None, ge=0, le=2, description="unset: the provider's default")
    max_tokens: int | None = Field(default=None, ge=1, description=(
        "most output tokens per request; unset: 1,024 under a budget (lowered to what the budget has left), "
        "the provider's default otherwise"))
    price: Price | None = Field(default=None, description="unset: the published price of a well-known model, if any")


class AnthropicModel(Strict):
    kind: Literal["anthropic"]
    model: str
    api_key: SecretRef = "env:ANTHROPIC_API_KEY"
    base_url: str | None = None
    timeout: float = 60.0
    temperature: float | None = Field(default=None, ge=0, le=1, description="unset: the provider's default")
    max_tokens: int | None = Field(default=None, ge=1, description=(
        "most output tokens per request; unset: 1,024 under a budget (lowered to what the budget has left), "
        "the provider's default otherwise"))
    price: Price | None = Field(default=None, description="unset: the published price of the model, if known")


class ScriptedTurn(Strict):
    """One scripted model turn: call a tool, or answer in text."""

    tool: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    text: str | None = None

    @model_validator(mode="after")
    def one_of(self) -> "ScriptedTurn":
        if (self.tool is None) == (self.text is None):
            raise ValueError("a scripted turn has either 'tool' (with 'args') or 'text'")
        return self


class ScriptedModel(Strict):
    """A model that plays back fixed turns: for tests, demos and rehearsals without any model."""

    kind: Literal["scripted"]
    turns: list[ScriptedTurn] = Field(min_length=1)
    price: Price | None = Field(default=None, description="priced as if it were a paid model (tests, demos); free if unset")


class FallbackModel(Strict):
    kind: Literal["fallback"]
    chain: list[str] = Field(min_length=2)


ModelConfig = Annotated[
    BundledModel | OpenAICompatibleModel | AnthropicModel | ScriptedModel | FallbackModel,
    Field(discriminator="kind"),
]


# --- agents ---------------------------------------------------------------------------------


class Autonomy(StrEnum):
    OBSERVE = "observe"  # proposes, never acts
    ASK = "ask"  # every write needs approval
    AUTO = "auto"  # acts within policy; the guard still asks where provenance demands


class ToolsetGrant(Strict):
    """A toolset attached to an agent: its connection settings and what the agent may do with it.

    A toolset is built in (by name), a Python toolset (``module``), or any MCP server (``mcp``), whose
    tools' effects and sensitive arguments the config declares once (``effects``, ``sensitive``).
    """

    module: str | None = Field(default=None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
                               description="import path of a toolset that is not built in: package.module:factory")
    settings: dict[str, Any] = Field(default_factory=dict)
    grants: list[Grant] = Field(default_factory=list)
    mcp: McpServerConfig | None = Field(default=None, description="an MCP server whose tools this toolset offers")
    effects: EffectsMap = Field(default_factory=dict, description=(
        "effect of each MCP tool (read, write, external); a tool not listed is read if the server marks it "
        "read-only, otherwise external"))
    sensitive: SensitiveMap = Field(default_factory=dict, description=(
        "arguments of each MCP tool whose origin the guard checks before a consequential call"))

    @model_validator(mode="after")
    def mcp_keys(self) -> "ToolsetGrant":
        check_mcp_keys(self.mcp, self.module, self.settings, self.effects, self.sensitive)
        return self

    @field_validator("grants", mode="before")
    @classmethod
    def shorthand(cls, value: Any) -> Any:
        # "grants: [notes.add, notes.list]" is short for "grants: [{tool: notes.add}, ...]"
        if isinstance(value, list):
            return [{"tool": v} if isinstance(v, str) else v for v in value]
        return value


# An event is named <connector>.<event>; which ones exist is declared by the installed connectors
# (``meshclaw.domain.connector.Connector.events``) and checked by ``meshclaw config check``.
EVENT_NAME = re.compile(r"^[a-z][a-z0-9_-]*\.[a-z][a-z0-9_.-]*$")


class Trigger(Strict):
    """When the worker starts a run of the agent by itself: on a schedule, or on an event."""

    cron: str | None = Field(default=None, description="'minute hour day month weekday', or six fields with seconds first")
    timezone: TimeZoneName | None = Field(default=None, description="IANA name the schedule is read in; UTC if unset")
    event: str | None = None
    task: str = Field(min_length=1)

    @model_validator(mode="after")
    def one_of(self) -> "Trigger":
        if (self.cron is None) == (self.event is None):
            raise ValueError("a trigger has either 'cron' or 'event'")
        if self.event is not None and not EVENT_NAME.match(self.event):
            raise ValueError(f"{self.event!r} is not an event name: events are named <connector>.<event>, "
                             "e.g. email.received")
        if self.event is not None and self.timezone is not None:
            raise ValueError("'timezone' belongs to a 'cron' trigger")
        if self.cron is not None:
            from croniter import croniter

            if len(self.cron.split()) not in (5, 6) or not croniter.is_valid(self.cron, second_at_beginning=True):
                raise ValueError(f"{self.cron!r} is not a cron schedule: give 'minute hour day month weekday' "
                                 "(e.g. '0 7 * * 1-5'), or six fields with seconds first")
        return self


class Limits(Strict):
    tool_calls_per_run: int = Field(default=25, ge=1)
    model_requests_per_run: int = Field(default=20, ge=1)
    run_seconds: int = Field(default=3600, ge=1)
    approval_seconds: int = Field(default=3600, ge=1, description="how long a request for approval waits before it is denied")


class Agent(Strict):
    name: Annotated[str, Field(pattern=NAME)]
    owner: str
    description: str = ""
    instructions: str
    model: str
    workflow: str | None = Field(default=None, description="a named workflow runs instead of the model's tool loop")
    options: dict[str, Any] = Field(default_factory=dict, description=(
        "settings of the agent's workflow (e.g. the team channel a deploy watcher posts to)"))
    autonomy: Autonomy = Autonomy.ASK
    toolsets: dict[str, ToolsetGrant] = Field(default_factory=dict)
    triggers: list[Trigger] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)
    budget: Budget = Field(default_factory=Budget)


class Config(Strict):
    organisation: Organisation = Field(default_factory=Organisation)
    users: list[User] = Field(default_factory=list)
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    agents: list[Agent] = Field(default_factory=list)
    local_users: dict[Annotated[str, Field(pattern=LOGIN)], str] = Field(default_factory=dict, description=(
        "who each login on this machine is: {login: user id}; a command acts as the user its login maps to"))
    chat_control: ChatControl | None = Field(default=None, description=(
        "the chat account owners message their agents through (direct messages) and answer approvals in"))
    usage: UsageSettings = Field(default_factory=UsageSettings)

    def problems(self) -> list[tuple[tuple, str]]:
        """Checks across sections (references between users, models and agents), as (path, message)."""
        out: list[tuple[tuple, str]] = []
        ids = [u.id for u in self.users]
        out += [(("users", i, "id"), f"duplicate user id {v!r}") for i, v in _duplicates(ids)]
        out += [(("agents", i, "name"), f"duplicate agent name {v!r}") for i, v in _duplicates([a.name for a in self.agents])]
        for i, u in enumerate(self.users):
            if u.manager is not None and u.manager not in ids:
                out.append((("users", i, "manager"), f"{u.manager!r} is not a known user"))
            for j, d in enumerate(u.delegates):
                if d not in ids or d == u.id:
                    out.append((("users", i, "delegates", j), f"{d!r} is not another known user"))
        if not out:  # a chain through an unknown or duplicate user is reported as that
            from .org_chart import org_chart_problems

            out += org_chart_problems(self.users)
        for login, user_id in self.local_users.items():
            if user_id not in ids:
                out.append((("local_users", login), f"login {login!r} maps to {user_id!r}, which is not a known user"))
        for name, m in self.models.items():
            if isinstance(m, FallbackModel):
                for j, link in enumerate(m.chain):
                    if link not in self.models or link == name:
                        out.append((("models", name, "chain", j), f"{link!r} is not another model defined under 'models'"))
        for i, a in enumerate(self.agents):
            if a.owner not in ids:
                out.append((("agents", i, "owner"), f"{a.owner!r} is not a known user"))
            if a.model not in self.models:
                out.append((("agents", i, "model"), f"{a.model!r} is not defined under 'models'"))
        return out

    def agent(self, name: str) -> Agent:
        for a in self.agents:
            if a.name == name:
                return a
        known = ", ".join(a.name for a in self.agents) or "none"
        raise NotFound(f"unknown agent {name!r} (known: {known})")

    def user(self, user_id: str) -> User:
        for u in self.users:
            if u.id == user_id:
                return u
        raise NotFound(f"unknown user {user_id!r}")


def _duplicates(values: list[str]) -> list[tuple[int, str]]:
    seen: set[str] = set()
    out = []
    for i, v in enumerate(values):
        if v in seen:
            out.append((i, v))
        seen.add(v)
    return out
