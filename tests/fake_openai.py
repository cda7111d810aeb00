"""A fake OpenAI-compatible chat-completions server on 127.0.0.1 for the LLM backends' tests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SLOW = 3.0
"""Seconds the server waits in "slow" mode: longer than the clients' test timeouts."""


class FakeOpenAI:
    """A chat-completions endpoint whose behaviour each test sets: normal, slow, 500, bad.

    In normal mode it answers `answer`, or what `answer_for(request)` returns when set.
    """

    def __init__(self, answer: str = "") -> None:
        self.mode = "normal"
        self.answer = answer
        self.answer_for: Callable[[dict[str, Any]], str] | None = None
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                fake.requests.append(json.loads(self.rfile.read(length)))
                fake.headers.append(dict(self.headers))
                fake.respond(self)

            def log_message(self, *_args: Any) -> None:  # keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def respond(self, handler: BaseHTTPRequestHandler) -> None:
        if self.mode == "slow":
            time.sleep(SLOW)
        if self.mode == "error":
            self._send(handler, 500, b'{"error": {"message": "overloaded"}}')
            return
        if self.mode == "malformed":
            self._send(handler, 200, b'{"choices": [{"message": {"content": "{\\"cut off')
            return
        content = self.answer_for(self.requests[-1]) if self.answer_for else self.answer
        message = {"role": "assistant", "content": content}
        body = {"choices": [{"index": 0, "message": message}]}
        self._send(handler, 200, json.dumps(body, ensure_ascii=False).encode())

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the slow case)

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
