"""A real OpenAI chat-completions server on loopback, scriptable per test.

It stands in for the paid API (and vLLM / Ollama): real sockets, real HTTP/1.1 with
keep-alive, chunked server-sent events in the official chunk format.

    from tests.fakes.openai_server import OpenAIServer, Reply

    with OpenAIServer() as srv:             # binds 127.0.0.1 on a free port, in a thread
        srv.url                             # "http://127.0.0.1:PORT/v1" (the base_url)
        srv.push(Reply.error(429, retry_after=1), Reply.error(500), Reply.ok("Hi [1].", usage=(12, 3)))
        ...                                 # call it (OpenAIGenerator, the openai client, httpx)
        srv.completions                     # the POST /v1/chat/completions requests received
        srv.completions[0].headers["authorization"], srv.completions[0].body["messages"]
    srv.stop()                              # idempotent; afterwards the port refuses connections

Each ``POST /v1/chat/completions`` takes the next reply from the queue; when the queue
is empty the default reply answers (``OpenAIServer(default=...)`` or ``srv.default = ...``,
e.g. ``Reply.error(500)`` for an endpoint that is down; out of the box ``Reply.ok()``:
"Ridge adds an L2 penalty [1]."). ``srv.stop()`` inside the block gives connection refused.
As a fixture: ``with OpenAIServer() as s: yield s``. Replies:

    Reply.ok(text, usage=(prompt, completion), model=..., omit_usage=False)
        200; ``usage`` defaults to word counts; ``omit_usage`` leaves it out (as some
        servers do in streams). Streams carry a usage chunk only when the request asks
        with ``stream_options.include_usage``.
    Reply.error(status, message, retry_after=None, headers=None)
        OpenAI's error body ``{"error": {"message", "type", "code"}}``; ``retry_after``
        becomes the ``Retry-After`` header (a number or an HTTP-date string).
    Reply.stall(seconds, after_chunks=0, text=..., heartbeat_s=None)
        stream: ``after_chunks`` content chunks, then ``seconds`` of silence, then the
        rest; non-stream: ``seconds`` of silence before the reply. ``stop()`` ends it.
        With ``heartbeat_s`` the stream is not silent: a chunk with empty content every
        ``heartbeat_s`` (bytes, but no text), as some servers keep a connection alive.
    Reply.disconnect(after_chunks=0)
        close the socket after that many content chunks (non-stream: before any reply).
    Reply.raw(body, status=200, content_type="application/json")
        exactly these bytes, for malformed or unusual servers (also for stream requests).

``GET /v1/models`` lists ``model``. With ``OpenAIServer(api_key="k")`` every request
must carry ``Authorization: Bearer k`` or gets a 401. ``srv.requests`` records every
request (method, path, lower-cased headers, parsed JSON body, monotonic time).

Like OpenAI, a request whose ``model`` names a reasoning model (``REASONING_MODEL``:
o1, o3, o4-mini, gpt-5...) gets a 400 ``invalid_request_error`` naming the parameter
when it sends ``max_tokens`` (``unsupported_parameter``: use ``max_completion_tokens``)
or a ``temperature`` other than 1 (``unsupported_value``), before any queued reply is used.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_TEXT = "Ridge adds an L2 penalty [1]."
REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")  # models that refuse max_tokens and temperature


@dataclass(frozen=True)
class Reply:
    """One scripted answer of the fake server (build with the class methods)."""

    kind: str  # ok | error | raw | stall | disconnect
    text: str = DEFAULT_TEXT
    usage: tuple[int, int] | None = None  # (prompt_tokens, completion_tokens); None = word counts
    omit_usage: bool = False
    model: str | None = None  # reported model; None = the server's model
    finish_reason: str = "stop"
    status: int = 200
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    after_chunks: int = 0
    heartbeat_s: float | None = None

    @classmethod
    def ok(
        cls,
        text: str = DEFAULT_TEXT,
        *,
        usage: tuple[int, int] | None = None,
        model: str | None = None,
        omit_usage: bool = False,
        finish_reason: str = "stop",
    ) -> Reply:
        return cls("ok", text, usage, omit_usage, model, finish_reason)

    @classmethod
    def error(
        cls,
        status: int,
        message: str = "",
        *,
        retry_after: float | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = str(retry_after)
        return cls("error", status=status, message=message or f"fake error {status}", headers=extra)

    @classmethod
    def raw(cls, body: str, *, status: int = 200, content_type: str = "application/json") -> Reply:
        return cls("raw", body, status=status, headers={"Content-Type": content_type})

    @classmethod
    def stall(
        cls,
        seconds: float,
        *,
        after_chunks: int = 0,
        text: str = DEFAULT_TEXT,
        heartbeat_s: float | None = None,
    ) -> Reply:
        return cls(
            "stall", text, seconds=seconds, after_chunks=after_chunks, heartbeat_s=heartbeat_s
        )

    @classmethod
    def disconnect(cls, *, after_chunks: int = 0, text: str = DEFAULT_TEXT) -> Reply:
        return cls("disconnect", text, after_chunks=after_chunks)


@dataclass(frozen=True)
class Recorded:
    """A request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any  # parsed JSON, the raw text when it is not JSON, None when empty
    at: float  # time.monotonic() on arrival


def split_text(text: str) -> list[str]:
    """Word-sized stream pieces whose concatenation is exactly ``text``."""
    return [p for p in re.split(r"(?<=\s)(?=\S)", text) if p]


class OpenAIServer:
    """The loopback server; a context manager that starts and stops it."""

    def __init__(
        self, *, default: Reply | None = None, api_key: str | None = None, model: str = "fake-gpt"
    ) -> None:
        self.default = default or Reply.ok()
        self.api_key = api_key
        self.model = model
        self.requests: list[Recorded] = []
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.stopping = threading.Event()  # set by stop(): ends stalls at once
        self._conns: set[socket.socket] = set()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("OpenAIServer is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def completions(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def push(self, *replies: Reply) -> None:
        """Queue replies for the next chat-completions requests, in order."""
        with self._lock:
            self._queue.extend(replies)

    def next_reply(self) -> Reply:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    def record(self, rec: Recorded) -> None:
        with self._lock:
            self.requests.append(rec)

    def track(self, conn: socket.socket, alive: bool) -> None:
        with self._lock:
            (self._conns.add if alive else self._conns.discard)(conn)

    def start(self) -> OpenAIServer:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        httpd.daemon_threads = True
        httpd.fake = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut open keep-alive connections, so the port refuses calls."""
        if self._httpd is None or self.stopping.is_set():
            return
        self.stopping.set()
        self._httpd.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, like the real API
    server: Any

    @property
    def fake(self) -> OpenAIServer:
        return self.server.fake  # type: ignore[no-any-return]

    def setup(self) -> None:
        super().setup()
        self.fake.track(self.connection, True)

    def finish(self) -> None:
        self.fake.track(self.connection, False)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    # --- routing ---------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._record(None)
        if not self._authorized():
            return
        if self.path.rstrip("/") == "/v1/models":
            model = {"id": self.fake.model, "object": "model", "created": 0, "owned_by": "fake"}
            self._json(200, {"object": "list", "data": [model]})
        else:
            self._error(404, f"no route GET {self.path}", "not_found")

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self._record(body)
        if not self._authorized():
            return
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._error(404, f"no route POST {self.path}", "not_found")
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._error(400, "'messages' is a required property", "invalid_request_error")
            return
        if self._refused_by_reasoning_model(body):
            return
        reply = self.fake.next_reply()
        if reply.kind == "error":
            self._error(reply.status, reply.message, "fake_error", reply.headers)
        elif reply.kind == "raw":
            self._send(reply.status, reply.text.encode(), reply.headers)
        elif body.get("stream"):
            self._stream(body, reply)
        else:
            self._complete(body, reply)

    def _refused_by_reasoning_model(self, body: dict[str, Any]) -> bool:
        """OpenAI's 400s for parameters a reasoning model does not take (same text and codes)."""
        if not REASONING_MODEL.match(str(body.get("model", ""))):
            return False
        if "max_tokens" in body:
            message = (
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead."
            )
            self._error(400, message, "invalid_request_error", param="max_tokens",
                        code="unsupported_parameter")  # fmt: skip
            return True
        if body.get("temperature", 1) != 1:
            message = (
                f"Unsupported value: 'temperature' does not support {body['temperature']} with "
                "this model. Only the default (1) value is supported."
            )
            self._error(400, message, "invalid_request_error", param="temperature",
                        code="unsupported_value")  # fmt: skip
            return True
        return False

    def _record(self, body: Any) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.fake.record(Recorded(self.command, self.path, headers, body, time.monotonic()))

    def _authorized(self) -> bool:
        key = self.fake.api_key
        if key is None or self.headers.get("Authorization") == f"Bearer {key}":
            return True
        self._error(401, "Incorrect API key provided.", "invalid_api_key")
        return False

    # --- replies ---------------------------------------------------------------------------

    def _complete(self, body: dict[str, Any], reply: Reply) -> None:
        if reply.kind == "disconnect":
            self._cut()
            return
        if reply.kind == "stall" and self.fake.stopping.wait(reply.seconds):
            return
        data = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply.model or self.fake.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.text},
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
        }
        if not reply.omit_usage:
            data["usage"] = _usage(body, reply)
        self._json(200, data)

    def _stream(self, body: dict[str, Any], reply: Reply) -> None:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        base = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": reply.model or self.fake.model,
            "system_fingerprint": None,
        }

        def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
            c = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            return {**c, "usage": None} if include_usage else c

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            self._event(chunk({"role": "assistant", "content": ""}, None))
            pieces = split_text(reply.text)
            for n in range(len(pieces) + 1):
                if n == min(reply.after_chunks, len(pieces)):
                    if reply.kind == "disconnect":
                        self._cut()
                        return
                    if reply.kind == "stall" and self._stall(reply, chunk):
                        return
                if n < len(pieces):
                    self._event(chunk({"content": pieces[n]}, None))
            self._event(chunk({}, reply.finish_reason))
            if include_usage and not reply.omit_usage:
                self._event({**base, "choices": [], "usage": _usage(body, reply)})
            self._write_chunk(b"data: [DONE]\n\n")
            self._write_chunk(b"")  # the zero-length chunk ends the body
        except OSError:  # the client hung up (e.g. its stall timeout fired)
            self.close_connection = True

    def _stall(self, reply: Reply, chunk: Any) -> bool:
        """Hold the stream for ``reply.seconds`` (beating if asked); True when stop() ended it."""
        if reply.heartbeat_s is None:
            return self.fake.stopping.wait(reply.seconds)
        until = time.monotonic() + reply.seconds
        while time.monotonic() < until:
            if self.fake.stopping.wait(reply.heartbeat_s):
                return True
            self._event(chunk({"content": ""}, None))
        return False

    def _event(self, data: dict[str, Any]) -> None:
        self._write_chunk(b"data: " + json.dumps(data).encode() + b"\n\n")

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _cut(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(
            status,
            json.dumps(data).encode(),
            {"Content-Type": "application/json"} | (headers or {}),
        )

    def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _error(
        self,
        status: int,
        message: str,
        kind: str,
        headers: dict[str, str] | None = None,
        *,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        error = {"message": message, "type": kind, "param": param, "code": code}
        self._json(status, {"error": error}, headers)


def _usage(body: dict[str, Any], reply: Reply) -> dict[str, int]:
    if reply.usage is not None:
        prompt, completion = reply.usage
    else:
        prompt = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        completion = len(reply.text.split())
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
