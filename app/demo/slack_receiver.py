"""A local Slack-compatible incoming-webhook receiver: it answers like Slack and records (or
prints) every message. The demo sends alerts to it; the tests use it as a real HTTP peer."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class ReceivedMessage:
    path: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class ScriptedResponse:
    status: int
    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)


class SlackReceiver:
    """Run with `with SlackReceiver() as receiver:`; post to `receiver.webhook_url`."""

    def __init__(self, on_message: Callable[[ReceivedMessage], None] | None = None) -> None:
        self.messages: list[ReceivedMessage] = []
        self.requests_seen = 0
        self._script: deque[ScriptedResponse] = deque()
        self._lock = threading.Lock()
        self._on_message = on_message
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, name="slack-receiver", daemon=True)

    @property
    def webhook_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/services/T000/B000/local-secret-token"

    def respond_next_with(self, *responses: ScriptedResponse) -> None:
        """Answer the next requests with these responses (then 200 "ok" again)."""
        with self._lock:
            self._script.extend(responses)

    def __enter__(self) -> SlackReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests_seen += 1
                    scripted = receiver._script.popleft() if receiver._script else ScriptedResponse(200)
                if scripted.status == 200:
                    try:
                        payload = json.loads(body)
                    except json.JSONDecodeError:
                        self._answer(ScriptedResponse(400, "invalid_payload"))
                        return
                    if not isinstance(payload, dict) or not payload.get("text"):
                        self._answer(ScriptedResponse(400, "no_text"))
                        return
                    message = ReceivedMessage(path=self.path, payload=payload)
                    with receiver._lock:
                        receiver.messages.append(message)
                    if receiver._on_message is not None:
                        receiver._on_message(message)
                self._answer(scripted)

            def _answer(self, response: ScriptedResponse) -> None:
                encoded = response.body.encode()
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
