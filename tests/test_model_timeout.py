"""A model that does not answer in time: the run says which setting to change, and the tokens the
request made the model process are still recorded (estimated, since no usage came back)."""

from __future__ import annotations

import socket
import threading

import pytest

from tests.runtime_support import run, runtime

CONFIG = """
users: [{id: alice, name: Alice, email: alice@example.com}]
models:
  slow: {kind: openai, model: some-model, base_url: "http://127.0.0.1:PORT/v1", api_key: "env:SLOW_KEY", timeout: 1, price: {input: 0, output: 0}}
agents:
  - name: keeper
    owner: alice
    instructions: Keep notes.
    model: slow
    toolsets:
      notes: {grants: [notes.add]}
"""


def silent_server() -> tuple[socket.socket, int]:
    """A loopback server that accepts connections and reads requests but never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)  # kept open, never answered

    threading.Thread(target=accept, daemon=True).start()
    return server, server.getsockname()[1]


@pytest.mark.slow
def test_a_timed_out_request_is_recorded_and_explained(home, monkeypatch):
    monkeypatch.setenv("SLOW_KEY", "not-a-real-key")
    server, port = silent_server()
    try:
        with runtime(home, CONFIG.replace("PORT", str(port))) as rt:
            outcome, _ = run(rt, "keeper", "remember to buy milk")
            assert outcome.status == "failed"
            assert "did not answer within" in outcome.error and "raise its `timeout:`" in outcome.error
            [usage] = rt.store.usage.for_run(outcome.run_id)
            assert usage.input_tokens > 0 and usage.output_tokens == 0 and usage.seconds >= 1
            [record] = [r for r in rt.store.audit.records(run_id=outcome.run_id) if r.kind == "model"]
            assert record.verdict == "timed out" and record.data["estimated"] is True
    finally:
        server.close()
