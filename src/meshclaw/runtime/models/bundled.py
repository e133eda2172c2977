"""The bundled local model: Qwen2.5-Coder-1.5B-Instruct served by xllamacpp on loopback.

One llama.cpp server per process, started on the first request (so building an agent costs nothing
until it talks to the model), bound to 127.0.0.1 on a port the OS picks, guarded by a per-process random API
key so no other local program or web page can use it, and stopped at interpreter exit. pydantic-ai
talks to it through its OpenAI chat model; ``TextToolCallModel`` turns the tool calls this model
writes as text into real ones.
"""

from __future__ import annotations

import atexit
import json
import logging
import secrets
import struct
import threading
import time
import urllib.request
from contextlib import asynccontextmanager
from pathlib import Path
from collections.abc import Sequence
from typing import Any, Protocol

from pydantic_ai.models import Model
from pydantic_ai.tools import ToolDefinition

from .bundled_install import is_verified, model_path, verify_model_file
from .errors import ModelUnavailable
from .textcalls import TextToolCallModel

log = logging.getLogger(__name__)

MODEL_NAME = "qwen2.5-coder-1.5b-instruct"
SAMPLING_SEED = 1234  # llama.cpp samples reproducibly with a fixed seed (the default is random per request)

# For the runtime to append to an agent's instructions when it runs on this model.
BUNDLED_MODEL_HINT = (
    "Call a tool only if you do not already have its result; once a tool response is present, answer in plain text."
)
# Sent as a user message after each tool result (see TextToolCallModel). Measured on this model:
# BUNDLED_MODEL_HINT in the system prompt stopped a repeated call in 2 of 10 trials, any of several
# wordings placed here in 10 of 10; this wording also never made the model claim it had no result
# (20 of 20, where two shorter ones did so 2 times in 20).
TOOL_RESULT_NUDGE = (
    "The tool has run and its result is above. Call another tool only if you still need a result you "
    "do not have yet; otherwise reply to the user in plain text, based on that result."
)

# The GGUF's template shows the call format with Jinja-escaped doubled braces; the model copies them
# into unparsable calls. Single braces make it write plain JSON.
_DOUBLED_EXAMPLE = '{{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}}'
_SINGLE_EXAMPLE = '{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}'

_UNAVAILABLE = "the bundled model is not installed: run `meshclaw model install`"


class BundledSettings(Protocol):
    """What bundled_model needs from its config (meshclaw.domain.config.BundledModel)."""

    context: int
    threads: int
    timeout: float


def bundled_model(cfg: BundledSettings, home: Path) -> Model:
    """A pydantic-ai model backed by the bundled Qwen model; its server starts on the first request.

    Raises ModelUnavailable if the model file or its runtime is missing, ModelFileInvalid if the file
    is not the pinned release.
    """
    path = model_path(home)
    if not path.is_file():
        raise ModelUnavailable(_UNAVAILABLE)
    if not is_verified(path):
        verify_model_file(path)  # once: records the result next to the file
    try:
        import xllamacpp  # noqa: F401  (only to fail early with a clear message)
    except ImportError as exc:
        raise ModelUnavailable("the bundled model runtime (xllamacpp) is not installed: run `meshclaw model install`") from exc

    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider
    from pydantic_ai.settings import ModelSettings

    server = _shared_server(path, cfg)
    # The port is only known once the server listens, so the client starts on a placeholder address
    # and BundledChatModel points it at the server before each request. The provider creates its own
    # HTTP client (rather than being handed one) so it can replace it when a run uses another event loop.
    provider = OpenAIProvider(base_url=server.base_url or _PLACEHOLDER_URL, api_key=server.api_key)
    chat = OpenAIChatModel(
        MODEL_NAME,
        provider=provider,
        # Low temperature: a 1.5B model's tool calls are more often well-formed. A fixed seed makes
        # the same prompt give the same answer, so a rehearsal predicts the real run. The cap stops a
        # runaway generation from holding the two cores for minutes. No SDK retries: a local request
        # that timed out would only redo the same slow work. Agent settings override all of these.
        settings=ModelSettings(temperature=0.2, seed=SAMPLING_SEED, max_tokens=1024, timeout=cfg.timeout,
                               max_retries=0),
    )
    return BundledChatModel(chat, server=server, client=provider.client)


def start_bundled_server(cfg: BundledSettings, home: Path) -> str:
    """Start (or reuse) the process's server now and return its base URL, e.g. to pay the load time up front."""
    path = model_path(home)
    if not path.is_file():
        raise ModelUnavailable(_UNAVAILABLE)
    return _shared_server(path, cfg).ensure_started()


async def warm_prefix(model: Model, *, instructions: str | None, tools: Sequence[ToolDefinition] = ()) -> None:
    """Have the server process an agent's stable prefix (instructions and tool list) ahead of its first run.

    llama.cpp keeps the last prompt's tokens: a later request that starts the same way (same
    instructions, same tools, in the same order) skips straight to what is new, so the first real
    turn costs what a warm turn does. Call it when an agent is loaded, e.g. at worker start.
    """
    from pydantic_ai.messages import ModelRequest, UserPromptPart
    from pydantic_ai.models import ModelRequestParameters
    from pydantic_ai.settings import ModelSettings

    request = ModelRequest(parts=[UserPromptPart(content="Hello")], instructions=instructions)
    # Entered like an agent run enters it: the provider then knows which event loop its HTTP client
    # belongs to, and a later run on another loop gets a fresh client instead of a dead connection.
    async with model:
        await model.request([request], ModelSettings(max_tokens=1), ModelRequestParameters(function_tools=list(tools)))


def shutdown_bundled_server() -> None:
    """Stop the process's server if it runs; the next request starts a new one."""
    with _registry_lock:
        server = _registry.get("server")
    if server is not None:
        server.stop()


def read_chat_template(path: Path) -> str:
    """Read ``tokenizer.chat_template`` from a GGUF header (the weights after it are never read)."""
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}  # GGUF scalar types
    with open(path, "rb") as f:

        def number(fmt: str) -> int:
            return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]

        def skip(kind: int) -> None:
            if kind == 8:  # string
                f.seek(number("<Q"), 1)
            elif kind == 9:  # array: item type, count, items
                item, count = number("<I"), number("<Q")
                if item in sizes:
                    f.seek(sizes[item] * count, 1)
                else:
                    for _ in range(count):
                        skip(item)
            else:
                f.seek(sizes[kind], 1)

        if f.read(4) != b"GGUF":
            raise ModelUnavailable(f"{path.name} is not a GGUF file")
        number("<I")  # version
        number("<Q")  # tensor count
        for _ in range(number("<Q")):
            key = f.read(number("<Q")).decode()
            kind = number("<I")
            if key == "tokenizer.chat_template" and kind == 8:
                return f.read(number("<Q")).decode()
            skip(kind)
    raise ModelUnavailable(f"{path.name} has no chat template")


def fixed_chat_template(path: Path) -> str:
    template = read_chat_template(path)
    if _DOUBLED_EXAMPLE not in template:
        # Only possible with another model file; the parser still copes with doubled braces.
        log.warning("chat template of %s has no doubled-brace tool example; using it unchanged", path.name)
        return template
    return template.replace(_DOUBLED_EXAMPLE, _SINGLE_EXAMPLE)


# --- the model --------------------------------------------------------------------------------


class BundledChatModel(TextToolCallModel):
    """TextToolCallModel that makes sure the shared server runs before each request."""

    def __init__(self, wrapped: Model, *, server: _Server, client: Any):
        super().__init__(wrapped, tool_result_nudge=TOOL_RESULT_NUDGE)
        self._server = server
        self._client = client

    async def _ready(self) -> None:
        import anyio

        # Loading takes seconds: do it in a thread so the event loop keeps serving other runs.
        url = await anyio.to_thread.run_sync(self._server.ensure_started)
        if str(self._client.base_url).rstrip("/") != url:
            self._client.base_url = url  # the server was (re)started on a new port

    async def request(self, messages, model_settings, model_request_parameters):
        await self._ready()
        return await super().request(messages, model_settings, model_request_parameters)

    @asynccontextmanager
    async def request_stream(self, messages, model_settings, model_request_parameters, run_context=None):
        await self._ready()
        async with super().request_stream(messages, model_settings, model_request_parameters, run_context) as stream:
            yield stream


_PLACEHOLDER_URL = "http://127.0.0.1:9/v1"  # discard port: never reached, replaced before any request


# --- the server ---------------------------------------------------------------------------------


class _Server:
    """One xllamacpp server; thread-safe start and stop."""

    def __init__(self, path: Path, context: int, threads: int, timeout: float):
        self.path, self.context, self.threads, self.timeout = path, context, threads, timeout
        self.api_key = secrets.token_urlsafe(32)  # never logged; lives only in this process
        self.base_url: str | None = None
        self.load_seconds: float | None = None
        self._server: Any = None
        self._lock = threading.Lock()

    def ensure_started(self) -> str:
        with self._lock:
            if self._server is None:
                self._start()
            assert self.base_url is not None
            return self.base_url

    def _start(self) -> None:
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(self.path)
        params.hostnames = ["127.0.0.1"]  # loopback only, never another address
        params.port = 0  # the OS picks a free port: no race between choosing and binding
        params.api_keys = [self.api_key]
        params.cors_origins = "http://127.0.0.1"  # no browser page elsewhere gets a CORS pass
        params.use_jinja = True
        params.chat_template = fixed_chat_template(self.path)
        params.n_ctx = self.context
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.threads
        params.ui = False
        params.offline = True  # never try to fetch anything
        params.endpoint_slots = False  # slot dumps would show prompts
        params.verbosity = 0  # llama.cpp logs to stderr; keep prompts and noise out of the logs
        started = time.perf_counter()
        try:
            server = xllamacpp.Server(params)
        except Exception as exc:  # xllamacpp raises plain RuntimeErrors
            raise ModelUnavailable(f"the bundled model server did not start: {exc}") from exc
        address = str(server.listening_address).rstrip("/")
        if not address.startswith("http://127.0.0.1:"):
            del server
            raise ModelUnavailable(f"the bundled model server listened on {address}, not on loopback")
        self._server = server
        self.base_url = f"{address}/v1"
        self.load_seconds = time.perf_counter() - started
        _register_exit_hook()
        self._warm()

    def _warm(self) -> None:
        """Send one 1-token request: pages the weights in and builds the compute graph.

        The first real request then pays only for its own prompt; after it, the agent's stable
        prefix (instructions and tool list) is served from llama.cpp's prefix cache.
        """
        body = {
            "model": MODEL_NAME,
            "messages": [{"role": "system", "content": BUNDLED_MODEL_HINT}, {"role": "user", "content": "Hello"}],
            "max_tokens": 1,
        }
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"},
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback never goes via a proxy
        try:
            with opener.open(request, timeout=self.timeout) as response:
                response.read()
        except OSError as exc:
            # Not fatal: the first real request will just be slower. Say so without the key.
            log.warning("warming the bundled model failed: %s", exc)

    def stop(self) -> None:
        with self._lock:
            server, self._server, self.base_url = self._server, None, None
        # The C++ destructor stops the HTTP loop and joins its threads.
        del server


_registry: dict[str, _Server] = {}
_registry_lock = threading.Lock()
_exit_hook_registered = False


def _shared_server(path: Path, cfg: BundledSettings) -> _Server:
    with _registry_lock:
        server = _registry.get("server")
        if server is None:
            server = _Server(path, cfg.context, cfg.threads, cfg.timeout)
            _registry["server"] = server
        elif (server.context, server.threads) != (cfg.context, cfg.threads):
            # One server per process: a second config cannot get its own without doubling RAM.
            log.warning("the bundled model already runs with context=%s threads=%s", server.context, server.threads)
        return server


def _register_exit_hook() -> None:
    global _exit_hook_registered
    if not _exit_hook_registered:
        atexit.register(shutdown_bundled_server)
        _exit_hook_registered = True
