"""LOCAL STUB of the Anthropic Messages API, for drills only.

Why it exists: drills inject upstream faults (bad key, rate limiting, slowness, overload) and must
never call a paid API. The stub speaks the real wire format (``POST /v1/messages``, ``GET /v1/models``,
``x-api-key`` auth, ``{"type":"error","error":{...},"request_id":...}`` bodies, ``request-id``,
``retry-after`` and ``anthropic-ratelimit-requests-*`` headers) so the agent uses the official
``anthropic`` SDK unmodified (the key is accepted from ``x-api-key`` or, as the installed SDK 2.x sends
it, ``Authorization: Bearer``) and the SDK's own retry and error-class logic is what gets exercised.

It behaves like the real API where the runbooks' remediations depend on it:

* rate limits are per API key (``rate_limit_rpm``, a sliding 60 s window, 0 = off; ``rate_limit_keys``
  limits only those keys, as a quota belongs to one key's workspace; ``rate_limit_interval_s`` enforces
  the quota over a shorter interval, as the real API may): a refused call is a 429 ``rate_limit_error``
  with ``retry-after`` = seconds until the key's window frees a slot, so a client-side limit
  (``ENABLE_RATE_LIMITING``) below the quota genuinely ends the 429s;
* latency grows with the prompt: ``latency_s`` + ``latency_per_1k_input_s`` per 1000 uncached input
  tokens (a cache read costs a tenth of that, as prefill is skipped) + ``latency_per_output_token_s``
  per generated token; long histories are slow, truncation and caching make them faster;
* streaming (``"stream": true``): the answer comes as server-sent events (``message_start``, the text in
  ``content_block_delta`` events, ``message_delta`` with the output usage, ``message_stop``) as the real API
  sends them. ``prefill_per_1k_input_s`` per 1000 uncached input tokens is the model's time to first token:
  a streamed call has already answered (headers and ``message_start``) and sends a ``ping`` event every
  ``PING_S`` while it waits, so a client's read timeout (the SDK's ``timeout`` is per read, not per call)
  does not cut a long prefill; a call that is not streamed sends nothing until the end, as upstream. The
  other latency knobs are a degraded provider holding the call before it starts: nothing is sent meanwhile,
  streamed or not;
* ``error_rate`` of calls fail with ``error_status`` (529 ``overloaded_error`` or 500 ``api_error``)
  after the latency, and a slow or failing upstream opens the agent's circuit breaker;
* an unknown ``model`` is a 404 ``not_found_error``;
* prompt caching: the blocks (system, then messages) up to the last one carrying ``cache_control`` form
  the cached prefix if it is at least the model's minimum cacheable length; billed as
  ``cache_creation_input_tokens`` when written and ``cache_read_input_tokens`` when a prefix written in
  the last 5 minutes is found at a block boundary (:func:`count_input`, :mod:`refsystem.stub_state`);
* usage is priced per model at list price (cache writes 1.25x, reads 0.1x, :mod:`refsystem.pricing`)
  and served as ``llm_stub_*`` counters on ``GET /metrics`` - the provider's side of the bill.

Fault control - ONE mechanism, the behaviour file: knobs default from env (``STUB_LATENCY_S``,
``STUB_LATENCY_PER_1K_INPUT_S``, ``STUB_LATENCY_PER_OUTPUT_TOKEN_S``, ``STUB_PREFILL_PER_1K_INPUT_S``,
``STUB_RATE_LIMIT``, ``STUB_RATE_LIMIT_RPM``, ``STUB_RATE_LIMIT_INTERVAL_S``, ``STUB_RETRY_AFTER_S``,
``STUB_ERROR_RATE``, ``STUB_ERROR_STATUS``, ``STUB_OUTPUT_TOKENS``, ``STUB_VALID_KEYS``) and are overridden by the
JSON object in the file at
``STUB_BEHAVIOUR_FILE``, re-read on every request, so a fault flips them at runtime without a restart
by writing the file atomically (write a temporary file, rename it over) and reverts by deleting it.
File keys: ``latency_s``, ``latency_per_1k_input_s``, ``latency_per_output_token_s``,
``prefill_per_1k_input_s``, ``rate_limit``
(every call is a 429, with ``retry_after_s``), ``rate_limit_rpm``, ``rate_limit_interval_s``,
``rate_limit_keys`` (a list: only these keys are limited), ``retry_after_s``, ``error_rate``,
``error_status``, ``output_tokens``, ``valid_keys`` (a list: revoke the agent's key). Keys left out keep
their env default; a file that is not a JSON object is ignored in favour of the last good one.

Run: ``STUB_VALID_KEYS=k1,k2 STUB_HOST=127.42.1.9 STUB_PORT=8090 python -m refsystem.llm_stub``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from refsystem.config import ConfigError, env_value, fail_config, log, parse_bool, parse_float, parse_int
from refsystem.httpjson import JSONHandler, JSONServer
from refsystem.pricing import CACHE_READ_MULTIPLIER, price_of
from refsystem.stub_state import Admission, Meter, PromptCache, RateWindows

MODELS: tuple[tuple[str, str], ...] = (
    ("claude-3-5-sonnet-20241022", "Claude 3.5 Sonnet (local stub)"),
    ("claude-3-5-haiku-20241022", "Claude 3.5 Haiku (local stub)"),
    ("claude-3-haiku-20240307", "Claude 3 Haiku (local stub)"),
    ("claude-3-opus-20240229", "Claude 3 Opus (local stub)"),
)
_MODEL_IDS = frozenset(mid for mid, _ in MODELS)
_ERRORS = {500: ("api_error", "Internal server error"), 529: ("overloaded_error", "Overloaded")}
PING_S = 5.0  # a streamed call's keep-alive while the model reads the prompt
_WORDS = "this is a canned reply from the local llm stub used by drillbook drills".split()


@dataclass(frozen=True)
class Behaviour:
    """Fault knobs; defaults from env, per-request overrides from the behaviour file."""

    latency_s: float = 0.0
    latency_per_1k_input_s: float = 0.0
    latency_per_output_token_s: float = 0.0
    prefill_per_1k_input_s: float = 0.0
    rate_limit: bool = False
    rate_limit_rpm: int = 0
    rate_limit_interval_s: float = 60.0
    rate_limit_keys: frozenset[str] = frozenset()  # empty: every key has the quota
    retry_after_s: float = 1.0
    error_rate: float = 0.0
    error_status: int = 529
    output_tokens: int = 50
    valid_keys: frozenset[str] = frozenset()


# (file key / field, env key, parser, cast of a JSON value)
_KNOBS: tuple[tuple[str, str, Any, Any], ...] = (
    ("latency_s", "STUB_LATENCY_S", parse_float, float),
    ("latency_per_1k_input_s", "STUB_LATENCY_PER_1K_INPUT_S", parse_float, float),
    ("latency_per_output_token_s", "STUB_LATENCY_PER_OUTPUT_TOKEN_S", parse_float, float),
    ("prefill_per_1k_input_s", "STUB_PREFILL_PER_1K_INPUT_S", parse_float, float),
    ("rate_limit", "STUB_RATE_LIMIT", parse_bool, bool),
    ("rate_limit_rpm", "STUB_RATE_LIMIT_RPM", parse_int, int),
    ("rate_limit_interval_s", "STUB_RATE_LIMIT_INTERVAL_S", parse_float, float),
    ("retry_after_s", "STUB_RETRY_AFTER_S", parse_float, float),
    ("error_rate", "STUB_ERROR_RATE", parse_float, float),
    ("error_status", "STUB_ERROR_STATUS", parse_int, int),
    ("output_tokens", "STUB_OUTPUT_TOKENS", parse_int, int),
)


def settings_from_env() -> tuple[Behaviour, str, int]:
    """(default behaviour, host, port) from env; exits 1 on missing keys or malformed values like the agent."""
    env = os.environ
    defaults = Behaviour()
    try:
        keys = env.get("STUB_VALID_KEYS", "").split(",")
        kw = {name: env_value(env, env_key, getattr(defaults, name), parser) for name, env_key, parser, _ in _KNOBS}
        beh = replace(defaults, valid_keys=frozenset(k.strip() for k in keys if k.strip()), **kw)
        port = env_value(env, "STUB_PORT", 8090, parse_int)
    except ConfigError as exc:
        fail_config(exc.lines)
    if not beh.valid_keys:
        fail_config(["Error: Missing required environment variable STUB_VALID_KEYS"])
    if beh.error_status not in _ERRORS:
        fail_config([f"Error: Invalid value for environment variable STUB_ERROR_STATUS: {beh.error_status} "
                     f"(one of {sorted(_ERRORS)})"])
    return beh, env.get("STUB_HOST") or env.get("POD_IP") or "127.0.0.1", port


class Stub:
    """State shared by handler threads: default behaviour, the file override, rate windows, cache, bill."""

    def __init__(self, defaults: Behaviour, behaviour_file: str) -> None:
        self.defaults = defaults
        self.behaviour_file = behaviour_file
        self._last_good: Behaviour | None = None
        self.windows = RateWindows()
        self.cache = PromptCache()
        self.meter = Meter()

    def behaviour(self) -> Behaviour:
        """Current knobs: missing file means env defaults; a half-written file keeps the last good."""
        if not self.behaviour_file:
            return self.defaults
        try:
            with open(self.behaviour_file, encoding="utf-8") as fh:
                data: dict[str, Any] = json.load(fh)
        except FileNotFoundError:
            return self.defaults
        except (OSError, ValueError):
            return self._last_good or self.defaults
        if not isinstance(data, dict):
            return self._last_good or self.defaults
        try:
            kw: dict[str, Any] = {name: cast(data[name]) for name, _, _, cast in _KNOBS if name in data}
        except (TypeError, ValueError):
            return self._last_good or self.defaults
        if kw.get("error_status", 529) not in _ERRORS:
            kw.pop("error_status")
        for name in ("valid_keys", "rate_limit_keys"):
            if isinstance(data.get(name), list):
                kw[name] = frozenset(str(k) for k in data[name])
        self._last_good = replace(self.defaults, **kw)
        return self._last_good


def _ratelimit_headers(adm: Admission) -> dict[str, str]:
    """The ``anthropic-ratelimit-requests-*`` headers (and ``retry-after`` on a refusal)."""
    reset = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=adm.reset_s)
    headers = {"anthropic-ratelimit-requests-limit": str(adm.limit),
               "anthropic-ratelimit-requests-remaining": str(adm.remaining),
               "anthropic-ratelimit-requests-reset": reset.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if not adm.admitted:
        headers["retry-after"] = str(adm.retry_after)
    return headers


@dataclass(frozen=True)
class Usage:
    """One request's token accounting, as the API reports it (``input_tokens`` excludes cached ones)."""

    input_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int

    def prefill_tokens(self) -> float:
        """Tokens the model must process before answering; a cache read skips most of that work."""
        cached = self.cache_read_input_tokens * CACHE_READ_MULTIPLIER
        return self.input_tokens + self.cache_creation_input_tokens + cached


def _blocks(system: Any, messages: list[Any]) -> list[tuple[str, bool]]:
    """The prompt as the cache sees it: (text, carries cache_control) per block, system first, in order."""
    out: list[tuple[str, bool]] = []
    for content in [system, *(m.get("content") for m in messages if isinstance(m, dict))]:
        if isinstance(content, str):
            out.append((content, False))
        elif isinstance(content, list):
            out.extend((str(b.get("text", "")), bool(b.get("cache_control"))) for b in content if isinstance(b, dict))
    return out


def count_input(stub: Stub, model: str, system: Any, messages: list[Any]) -> Usage:
    """Count a request's input tokens (~4 characters a block) and split off the cached prefix, like the API.

    The cacheable prefix runs to the last block marked ``cache_control`` (system blocks, then message
    content blocks). It is cached only when it reaches the model's minimum cacheable length. A hit is the
    longest earlier-written prefix ending at a block boundary up to 20 blocks before that breakpoint (so
    a conversation's next turn reads the previous turn's prefix); the rest of the prefix is written.
    """
    blocks = _blocks(system, messages)
    ends, digest, tokens = [], hashlib.sha256(model.encode()), 0
    for text, _ in blocks:  # (tokens up to here, hash of the prefix up to here) at every block boundary
        digest.update(b"\0" + text.encode())
        tokens += len(text) // 4
        ends.append((tokens, digest.hexdigest()))
    total = max(1, tokens)
    marked = [i for i, (_, mark) in enumerate(blocks) if mark]
    if not marked or ends[marked[-1]][0] < price_of(model).min_cacheable_tokens:
        return Usage(total, 0, 0)
    last = marked[-1]
    read = next((ends[i][0] for i in range(last, max(-1, last - 20), -1) if stub.cache.seen(ends[i][1])), 0)
    for i in marked:  # every breakpoint's prefix is written (or refreshed)
        if ends[i][0] >= price_of(model).min_cacheable_tokens:
            stub.cache.hit(ends[i][1])
    write = ends[last][0] - read
    return Usage(max(1, total - read - write), write, read)


class Handler(JSONHandler):
    """Routes the Messages API subset the SDK uses; every response carries a ``request-id``, as upstream."""

    server_version = "refsystem-llm-stub/1"
    stub: Stub

    def response_headers(self) -> dict[str, str]:
        """A fresh ``request-id`` per response: the SDK surfaces it on errors and the agent logs it."""
        return {"request-id": f"req_stub_{uuid.uuid4().hex[:24]}"}

    def send_error_json(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> None:
        """The Anthropic error envelope (which the SDK parses into its exception classes), request id included."""
        rid = f"req_stub_{uuid.uuid4().hex[:24]}"
        if self.route == "/v1/messages":  # counted before answering, so a client never sees an uncounted call
            self.stub.meter.requests.labels(str(status)).inc()
        self.send_json(status, {"type": "error", "error": {"type": kind, "message": message}, "request_id": rid},
                       {"request-id": rid, **(headers or {})})

    def _api_key(self, beh: Behaviour) -> str | None:
        """The caller's key if valid: ``x-api-key`` (the documented header) or ``Authorization: Bearer``."""
        key = self.headers.get("x-api-key", "")
        bearer = self.headers.get("authorization", "")
        if not key and bearer[:7].lower() == "bearer ":
            key = bearer[7:].strip()
        if key and key in beh.valid_keys:
            return key
        self.send_error_json(401, "authentication_error", "invalid x-api-key")
        log("WARNING", "LOCAL STUB rejected request: invalid x-api-key", path=self.path, status=401)
        return None

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        path = self.route
        if path == "/health":
            self.send_json(200, {"status": "ok"})
        elif path == "/metrics":
            self.send_bytes(200, generate_latest(self.stub.meter.registry), CONTENT_TYPE_LATEST)
        elif path != "/v1/models":
            self.send_error_json(404, "not_found_error", f"{path} not found")
        elif self._api_key(self.stub.behaviour()) is not None:
            data = [{"type": "model", "id": mid, "display_name": name, "created_at": "2024-10-22T00:00:00Z"}
                    for mid, name in MODELS]
            self.send_json(200, {"data": data, "has_more": False,
                                 "first_id": data[0]["id"], "last_id": data[-1]["id"]})

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        path = self.route
        try:
            body = json.loads(self.read_body() or b"null")
        except ValueError:
            self.send_error_json(400, "invalid_request_error", "request body is not valid JSON")
            return
        if path != "/v1/messages":
            self.send_error_json(404, "not_found_error", f"{path} not found (local stub)")
            return
        beh = self.stub.behaviour()
        key = self._api_key(beh)
        if key is not None:
            self._messages(body, beh, key)

    def _messages(self, body: Any, beh: Behaviour, key: str) -> None:
        """Answer one Messages API call, applying the fault knobs in the order the real API would."""
        started = time.monotonic()
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            self.send_error_json(400, "invalid_request_error", "messages: field required")
            return
        model, max_tokens = body.get("model"), body.get("max_tokens")
        if not isinstance(model, str) or not isinstance(max_tokens, int) or max_tokens < 1:
            self.send_error_json(400, "invalid_request_error", "model and max_tokens are required")
            return
        if model not in _MODEL_IDS:
            self.send_error_json(404, "not_found_error", f"model: {model}")
            return
        rpm = beh.rate_limit_rpm if not beh.rate_limit_keys or key in beh.rate_limit_keys else 0
        adm = self.stub.windows.admit(key, rpm, window_s=beh.rate_limit_interval_s)
        if beh.rate_limit:
            adm = Admission(False, max(adm.limit, 1), 0, beh.retry_after_s)
        limit_headers = _ratelimit_headers(adm) if adm.limit else {}
        if not adm.admitted:
            self.send_error_json(429, "rate_limit_error", f"This request would exceed your rate limit of "
                                 f"{adm.limit} requests per minute (local stub). Please retry after "
                                 f"{adm.retry_after} seconds.", limit_headers)
            log("WARNING", "LOCAL STUB 429 Too Many Requests rate_limit_error", model=model, status=429,
                retry_after=adm.retry_after)
            return
        usage = count_input(self.stub, model, body.get("system"), body["messages"])
        out = max(1, min(beh.output_tokens, max_tokens))
        held = beh.latency_s + beh.latency_per_1k_input_s * usage.prefill_tokens() / 1000.0
        prefill = beh.prefill_per_1k_input_s * usage.prefill_tokens() / 1000.0
        per_token = beh.latency_per_output_token_s
        streamed = body.get("stream") is True
        wait = held if streamed else held + prefill + per_token * out
        if wait > 0:
            time.sleep(wait)
        if beh.error_rate > 0 and random.random() < beh.error_rate:
            kind, text = _ERRORS[beh.error_status]
            self.send_error_json(beh.error_status, kind, f"{text} (local stub)")
            log("WARNING", f"LOCAL STUB {beh.error_status} {kind}", model=model, status=beh.error_status)
            return
        words = (_WORDS * (out * 4 // len(" ".join(_WORDS)) + 1))
        text = " ".join(words)[: out * 4].strip() or "ok"
        cost = self.stub.meter.bill(model, usage.input_tokens, out, usage.cache_creation_input_tokens,
                                    usage.cache_read_input_tokens)
        self.stub.meter.requests.labels("200").inc()
        message = {
            "id": f"msg_stub_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "max_tokens" if out < beh.output_tokens else "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": usage.input_tokens, "output_tokens": out,
                      "cache_creation_input_tokens": usage.cache_creation_input_tokens,
                      "cache_read_input_tokens": usage.cache_read_input_tokens},
        }
        if streamed:
            complete = self._stream(message, limit_headers, prefill, per_token)
        else:
            self.send_json(200, message, limit_headers)
            complete = True
        log("INFO", "LOCAL STUB message served", model=model, status=200, input_tokens=usage.input_tokens,
            output_tokens=out, cache_read=usage.cache_read_input_tokens, cost=cost, stream=streamed,
            complete=complete, duration=time.monotonic() - started)

    def _stream(self, message: dict[str, Any], headers: dict[str, str], prefill_s: float, per_token_s: float) -> bool:
        """Send ``message`` as the API's event stream: started at once, pinged through the prefill, the text
        in deltas of about one token each ``per_token_s`` apart. False if the client hung up first."""
        text = message["content"][0]["text"]
        start = {**message, "content": [], "stop_reason": None,
                 "usage": {**message["usage"], "output_tokens": 1}}
        try:
            self.send_response(200)
            for key, value in {"content-type": "text/event-stream", "cache-control": "no-cache",
                               "transfer-encoding": "chunked", **self.response_headers(), **headers}.items():
                self.send_header(key, value)
            self.end_headers()
            self._event("message_start", {"type": "message_start", "message": start})
            deadline = time.monotonic() + prefill_s
            while (left := deadline - time.monotonic()) > 0:
                time.sleep(min(PING_S, left))
                if left > PING_S:
                    self._event("ping", {"type": "ping"})
            self._event("content_block_start", {"type": "content_block_start", "index": 0,
                                                "content_block": {"type": "text", "text": ""}})
            pieces = [text[i:i + 4] for i in range(0, len(text), 4)] if per_token_s > 0 else [text]
            for piece in pieces:
                if per_token_s > 0:
                    time.sleep(per_token_s)
                self._event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                    "delta": {"type": "text_delta", "text": piece}})
            self._event("content_block_stop", {"type": "content_block_stop", "index": 0})
            self._event("message_delta", {"type": "message_delta", "delta": {
                "stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": message["usage"]["output_tokens"]}})
            self._event("message_stop", {"type": "message_stop"})
            self.wfile.write(b"0\r\n\r\n")
            return True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return False

    def _event(self, name: str, data: dict[str, Any]) -> None:
        """One server-sent event, as one HTTP/1.1 chunk (keep-alive needs the stream to be framed)."""
        payload = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
        self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
        self.wfile.flush()


def main() -> None:
    """Entry point: bind STUB_HOST:STUB_PORT, serve until SIGTERM/SIGINT."""
    defaults, host, port = settings_from_env()
    stub = Stub(defaults, os.environ.get("STUB_BEHAVIOUR_FILE", ""))
    server = JSONServer(host, port, Handler, stub=stub)
    server.stop_on_signals(lambda signum: log("INFO", "LOCAL STUB stopping", signal=signum))
    log("INFO", "LOCAL STUB of the Anthropic Messages API listening (no paid API is ever called)",
        host=host, port=port, pod=os.environ.get("POD_NAME", "llm-stub"),
        behaviour_file=stub.behaviour_file or "-", valid_keys=len(defaults.valid_keys))
    server.serve()
    log("INFO", "LOCAL STUB stopped")


if __name__ == "__main__":
    main()
