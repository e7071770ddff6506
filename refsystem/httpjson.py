"""The HTTP/1.1 JSON plumbing shared by the refsystem servers (the agent and the LLM stub).

Why one module: both servers face clients that pool connections (the ``anthropic`` SDK, ``requests``
sessions in the load generator), so both need the same fixes to the stdlib ``http.server`` defaults,
and a fix made to one and forgotten in the other shows up in a drill as latency nobody can explain:

* HTTP/1.1 keep-alive, which only works when every response carries ``content-length``;
* Nagle off, because the stdlib writes headers and body separately and a delayed ACK would stall
  each response by ~40 ms;
* a client that hung up (its own timeout fired first) closes the connection instead of raising;
* no stdlib access log: each program writes its own logfmt line per request through
  :func:`refsystem.config.log`, which is what the runbooks grep;
* a real listen backlog (the stdlib default of 5 drops load-generator bursts), daemon request
  threads, and a SIGTERM/SIGINT stop that works from the thread running ``serve_forever``.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JSONHandler(BaseHTTPRequestHandler):
    """Base request handler: keep-alive, no Nagle, silent access log, length-framed responses."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # header and body are separate writes: avoid 40 ms delayed-ACK stalls

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence the stdlib access log; each program emits its own logfmt line per request."""

    @property
    def route(self) -> str:
        """The request path without its query string, which is all the routes match on."""
        return self.path.split("?", 1)[0]

    def read_body(self) -> bytes:
        """The request body as framed by ``content-length`` (absent means empty, as keep-alive requires)."""
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def response_headers(self) -> dict[str, str]:
        """Headers every response of this handler carries; a subclass overrides it (e.g. a request id)."""
        return {}

    def send_bytes(self, status: int, data: bytes, ctype: str = "application/json",
                   headers: Mapping[str, str] | None = None) -> None:
        """Write one complete response; a client that already hung up just closes the connection."""
        try:
            self.send_response(status)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(data)))
            for key, value in {**self.response_headers(), **(headers or {})}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout fired first)

    def send_json(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        """Serialise ``body`` with :func:`json.dumps` defaults and send it as ``application/json``."""
        self.send_bytes(status, json.dumps(body).encode(), headers=headers)


class JSONServer(ThreadingHTTPServer):
    """Threaded server with a real listen backlog, whose handlers get the program's state as attributes."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self, host: str, port: int, handler: type[JSONHandler], **state: Any) -> None:
        """Bind ``host:port`` (OSError if taken); ``state`` becomes class attributes of a handler subclass,
        because the stdlib builds a fresh handler per request and offers no other way to pass it objects."""
        super().__init__((host, port), type("BoundHandler", (handler,), state))

    def stop_on_signals(self, before_stop: Callable[[int], None]) -> None:
        """On SIGTERM/SIGINT call ``before_stop(signum)``, then stop :meth:`serve`.

        ``shutdown()`` blocks until ``serve_forever`` returns, and the handler runs on the very thread
        that is serving, so the shutdown is started from a helper thread.
        """

        def _stop(signum: int, _frame: object) -> None:
            before_stop(signum)
            threading.Thread(target=self.shutdown, daemon=True).start()

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, _stop)

    def serve(self) -> None:
        """Serve until stopped, then release the socket (0.2 s polls keep the stop prompt)."""
        self.serve_forever(poll_interval=0.2)
        self.server_close()
