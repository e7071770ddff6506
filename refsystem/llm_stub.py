"""LOCAL STUB of the Anthropic Messages API, for drills only.

Why it exists: drills inject upstream faults (bad key, rate limiting, slowness, overload) and must
never call a paid API. The stub speaks the real wire format (``POST /v1/messages``, ``GET /v1/models``,
``x-api-key`` auth, ``{"type":"error","error":{...}}`` bodies, ``request-id`` and ``retry-after``
headers) so the agent uses the official ``anthropic`` SDK unmodified (the key is accepted from ``x-api-key``
or, as the installed SDK 2.x sends it, ``Authorization: Bearer``) and the SDK's own retry and
error-class logic is what gets exercised.

Behaviour knobs come from env (``STUB_LATENCY_S``, ``STUB_RATE_LIMIT``, ``STUB_RATE_LIMIT_RPM``,
``STUB_ERROR_RATE``, ``STUB_OUTPUT_TOKENS``, ``STUB_LATENCY_PER_1K_INPUT_S``) and are overridden by
the JSON file at ``STUB_BEHAVIOUR_FILE``, re-read on every request so a fault flips them without a
restart (keys: ``latency_s``, ``rate_limit``, ``rate_limit_rpm``, ``error_rate``, ``output_tokens``,
``latency_per_1k_input_s``, ``valid_keys``). ``rate_limit_rpm`` (sliding 60 s window, 0 = off) lets a
client-side rate limit genuinely cure the 429s; ``valid_keys`` lets a fault revoke the agent's key.
Prompt caching is modelled: ``system`` blocks carrying ``cache_control`` are billed as
``cache_creation_input_tokens`` the first time and ``cache_read_input_tokens`` for 5 minutes after.

Run: ``STUB_VALID_KEYS=k1,k2 STUB_HOST=127.42.1.9 STUB_PORT=8090 python -m refsystem.llm_stub``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

from refsystem.config import ConfigError, env_value, fail_config, log, parse_bool, parse_float, parse_int
from refsystem.httpjson import JSONHandler, JSONServer

MODELS: tuple[tuple[str, str], ...] = (
    ("claude-3-5-sonnet-20241022", "Claude 3.5 Sonnet (local stub)"),
    ("claude-3-haiku-20240307", "Claude 3 Haiku (local stub)"),
    ("claude-3-opus-20240229", "Claude 3 Opus (local stub)"),
)
CACHE_TTL_S = 300.0
_WORDS = "this is a canned reply from the local llm stub used by drillbook drills".split()


@dataclass(frozen=True)
class Behaviour:
    """Fault knobs; defaults from env, per-request overrides from the behaviour file."""

    latency_s: float = 0.0
    rate_limit: bool = False
    rate_limit_rpm: int = 0
    error_rate: float = 0.0
    output_tokens: int = 50
    latency_per_1k_input_s: float = 0.0
    valid_keys: frozenset[str] = frozenset()


def settings_from_env() -> tuple[Behaviour, str, int]:
    """(default behaviour, host, port) from env; exits 1 on missing keys or malformed values like the agent."""
    env = os.environ
    try:
        keys = env.get("STUB_VALID_KEYS", "").split(",")
        beh = Behaviour(
            latency_s=env_value(env, "STUB_LATENCY_S", 0.0, parse_float),
            rate_limit=env_value(env, "STUB_RATE_LIMIT", False, parse_bool),
            rate_limit_rpm=env_value(env, "STUB_RATE_LIMIT_RPM", 0, parse_int),
            error_rate=env_value(env, "STUB_ERROR_RATE", 0.0, parse_float),
            output_tokens=env_value(env, "STUB_OUTPUT_TOKENS", 50, parse_int),
            latency_per_1k_input_s=env_value(env, "STUB_LATENCY_PER_1K_INPUT_S", 0.0, parse_float),
            valid_keys=frozenset(k.strip() for k in keys if k.strip()),
        )
        port = env_value(env, "STUB_PORT", 8090, parse_int)
    except ConfigError as exc:
        fail_config(exc.lines)
    if not beh.valid_keys:
        fail_config(["Error: Missing required environment variable STUB_VALID_KEYS"])
    return beh, env.get("STUB_HOST") or env.get("POD_IP") or "127.0.0.1", port


class Stub:
    """State shared by handler threads: default behaviour, the file override, rate window, cache."""

    def __init__(self, defaults: Behaviour, behaviour_file: str) -> None:
        self.defaults = defaults
        self.behaviour_file = behaviour_file
        self._last_good: Behaviour | None = None
        self._lock = threading.Lock()
        self._admitted: deque[float] = deque()
        self._prompt_cache: dict[str, float] = {}

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
        kw: dict[str, Any] = {}
        for key, cast in (("latency_s", float), ("rate_limit", bool), ("rate_limit_rpm", int),
                          ("error_rate", float), ("output_tokens", int), ("latency_per_1k_input_s", float)):
            if key in data:
                kw[key] = cast(data[key])
        if isinstance(data.get("valid_keys"), list):
            kw["valid_keys"] = frozenset(str(k) for k in data["valid_keys"])
        self._last_good = replace(self.defaults, **kw)
        return self._last_good

    def admit(self, rpm: int) -> bool:
        """Sliding-window limiter over admitted requests; only admitted ones use up quota."""
        if rpm <= 0:
            return True
        now = time.monotonic()
        with self._lock:
            while self._admitted and now - self._admitted[0] > 60.0:
                self._admitted.popleft()
            if len(self._admitted) >= rpm:
                return False
            self._admitted.append(now)
            return True

    def cache_hit(self, key: str) -> bool:
        """Ephemeral prompt cache: True if this prefix was seen within the TTL; refreshes it either way."""
        now = time.monotonic()
        with self._lock:
            hit = now - self._prompt_cache.get(key, -1e9) < CACHE_TTL_S
            if len(self._prompt_cache) > 4096:
                self._prompt_cache.clear()
            self._prompt_cache[key] = now
        return hit


def _text_of(content: Any) -> str:
    """Concatenate the text of a message/system ``content`` (string or list of blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return ""


def _error(kind: str, message: str) -> dict[str, Any]:
    """The Anthropic error envelope the SDK parses into its exception classes."""
    return {"type": "error", "error": {"type": kind, "message": message}}


class Handler(JSONHandler):
    """Routes the Messages API subset the SDK uses; every response carries a ``request-id``, as upstream."""

    server_version = "refsystem-llm-stub/1"
    stub: Stub

    def response_headers(self) -> dict[str, str]:
        """A fresh ``request-id`` per response: the SDK surfaces it on errors and the agent logs it."""
        return {"request-id": f"req_stub_{uuid.uuid4().hex[:24]}"}

    def _authorized(self, beh: Behaviour) -> bool:
        """Check ``x-api-key`` (the documented header) or ``Authorization: Bearer`` (what SDK 2.x sends)."""
        key = self.headers.get("x-api-key", "")
        bearer = self.headers.get("authorization", "")
        if not key and bearer[:7].lower() == "bearer ":
            key = bearer[7:].strip()
        if key and key in beh.valid_keys:
            return True
        self.send_json(401, _error("authentication_error", "invalid x-api-key"))
        log("WARNING", "LOCAL STUB rejected request: invalid x-api-key", path=self.path, status=401)
        return False

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        path = self.route
        if path != "/v1/models":
            ok = path == "/health"
            self.send_json(200 if ok else 404,
                           {"status": "ok"} if ok else _error("not_found_error", f"{path} not found"))
            return
        if not self._authorized(self.stub.behaviour()):
            return
        data = [{"type": "model", "id": mid, "display_name": name, "created_at": "2024-10-22T00:00:00Z"}
                for mid, name in MODELS]
        self.send_json(200, {"data": data, "has_more": False,
                             "first_id": data[0]["id"], "last_id": data[-1]["id"]})

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        path = self.route
        try:
            body = json.loads(self.read_body() or b"null")
        except ValueError:
            self.send_json(400, _error("invalid_request_error", "request body is not valid JSON"))
            return
        if path != "/v1/messages":
            self.send_json(404, _error("not_found_error", f"{path} not found (local stub)"))
            return
        beh = self.stub.behaviour()
        if not self._authorized(beh):
            return
        self._messages(body, beh)

    def _messages(self, body: Any, beh: Behaviour) -> None:
        """Answer one Messages API call, applying the fault knobs in the order the real API would."""
        started = time.monotonic()
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            self.send_json(400, _error("invalid_request_error", "messages: field required"))
            return
        model, max_tokens = body.get("model"), body.get("max_tokens")
        if not isinstance(model, str) or not isinstance(max_tokens, int) or max_tokens < 1:
            self.send_json(400, _error("invalid_request_error", "model and max_tokens are required"))
            return
        if beh.rate_limit or not self.stub.admit(beh.rate_limit_rpm):
            self.send_json(429, _error("rate_limit_error", "Number of requests has exceeded your rate limit "
                                   "(local stub)"), {"retry-after": "1"})
            log("WARNING", "LOCAL STUB 429 Too Many Requests rate_limit_error", model=model, status=429)
            return
        system = body.get("system")
        prefix_text = ""  # like the real API: everything up to the last block marked cache_control
        if isinstance(system, list):
            marked = [i for i, b in enumerate(system) if isinstance(b, dict) and b.get("cache_control")]
            prefix_text = _text_of(system[: marked[-1] + 1]) if marked else ""
        cached_chars = len(prefix_text)
        msg_chars = sum(len(_text_of(m.get("content"))) for m in body["messages"] if isinstance(m, dict))
        total_in = max(1, (msg_chars + len(_text_of(system))) // 4)
        cache_create = cache_read = 0
        if cached_chars:
            prefix = hashlib.sha256(f"{model}\0{prefix_text}".encode()).hexdigest()
            if self.stub.cache_hit(prefix):
                cache_read = cached_chars // 4
            else:
                cache_create = cached_chars // 4
        input_tokens = max(1, total_in - cache_create - cache_read)
        delay = beh.latency_s + beh.latency_per_1k_input_s * total_in / 1000.0
        if delay > 0:
            time.sleep(delay)
        if beh.error_rate > 0 and random.random() < beh.error_rate:
            self.send_json(529, _error("overloaded_error", "Overloaded (local stub)"))
            log("WARNING", "LOCAL STUB 529 overloaded_error", model=model, status=529)
            return
        out = max(1, min(beh.output_tokens, max_tokens))
        words = (_WORDS * (out * 4 // len(" ".join(_WORDS)) + 1))
        text = " ".join(words)[: out * 4].strip() or "ok"
        usage = {"input_tokens": input_tokens, "output_tokens": out,
                 "cache_creation_input_tokens": cache_create, "cache_read_input_tokens": cache_read}
        self.send_json(200, {
            "id": f"msg_stub_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "max_tokens" if out < beh.output_tokens else "end_turn", "stop_sequence": None,
            "usage": usage,
        })
        log("INFO", "LOCAL STUB message served", model=model, status=200, input_tokens=input_tokens,
            output_tokens=out, cache_read=cache_read, duration=time.monotonic() - started)


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
