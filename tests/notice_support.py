"""Real delivery endpoints for notice tests: an SMTP server on loopback (aiosmtpd) and a
webhook receiver (an HTTP server in a thread) that can be made slow or failing."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller


class Mailbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list = []
        self.on_message: Callable[[], None] = lambda: None

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        self.on_message()
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


class Receiver(ThreadingHTTPServer):
    """A webhook endpoint that records bodies and answers with a configurable status.

    `pause(body)` runs before the answer (to make some requests slow); a body is recorded when
    it has been read, i.e. delivered, whether or not the sender waits for the answer.
    """

    daemon_threads = True

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.status = 200
        self.pause: Callable[[dict], None] = lambda body: None
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/robot"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body["_header_key"] = self.headers["Idempotency-Key"]
        self.server.bodies.append(body)
        self.server.pause(body)
        try:
            self.send_response(self.server.status)
            self.end_headers()
            self.wfile.write(b'{"errcode":0,"errmsg":"ok"}')
        except OSError:
            pass  # the sender gave up waiting (its timeout): the message was delivered all the same

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()
