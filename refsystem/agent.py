"""The "production-agent" chat service that drills break and runbooks repair.

Why each piece exists (all modelled on the runbooks in ``/work/shared/seed/incident-runbooks.md``):

* ``POST /v1/chat`` keeps conversation history in Redis (``conv:<id>``), honours the abuse block key
  ``blocked:user:<id>``, per-user and per-pod rate limits, a daily budget (``budget:<date>``), model
  routing and history truncation/summarisation/prompt caching - so each Cost-Spike / High-Latency
  remediation changes real behaviour and real metrics.
* The upstream call uses the official ``anthropic`` SDK (pointed at the local stub by
  ``ANTHROPIC_BASE_URL``), so timeouts, retries and error classes are the SDK's own.
* Request contexts are real, touched memory held in a bounded LRU (``CONTEXT_CACHE_ENTRIES``). This is
  DELIBERATE: it makes the pod's RSS follow the traffic's ``context_kb``, so a too-small cgroup memory
  limit gets the process OOM-killed by the kernel (Runbook 1, cause 1) instead of by a simulation.
* ``/health`` fails on Redis PING (1 s socket timeouts, no retries) or a 401 from the background
  credentials check, so "Agent Down"/"Redis Failure" symptoms appear within about a second.
* ``/metrics`` exposes exactly the metric names the runbooks query (private registry per process).
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import threading
import time
import traceback
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anthropic
import redis
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from redis.backoff import NoBackoff
from redis.retry import Retry

from refsystem.config import AgentConfig, load_agent_config_or_exit, log

HAIKU = "claude-3-haiku-20240307"
PRICES = {"haiku": (0.25, 1.25), "sonnet": (3.0, 15.0), "opus": (15.0, 75.0)}  # $/M tokens in, out
ERROR_TYPES = ("upstream_auth", "upstream_rate_limit", "upstream_timeout", "upstream_error", "redis_connection",
               "redis_error", "blocked", "rate_limited", "budget_exceeded", "bad_request", "internal")
STATES = ("closed", "open", "half_open")
SYSTEM_PROMPT = ("You are the production support agent. Answer concisely and accurately. " * 12).strip()
DEGRADED_REPLY = "The assistant is temporarily running in degraded mode. Please try again in a few minutes."
MAX_CONTEXT_KB = 65536
SUMMARY_KEEP_TURNS = 4


def cost_of(model: str, usage: Any) -> tuple[int, int, float]:
    """(input tokens incl. cached, output tokens, dollars); cache writes cost 1.25x, reads 0.1x."""
    p_in, p_out = next((p for k, p in PRICES.items() if k in model), PRICES["sonnet"])
    plain, out = usage.input_tokens or 0, usage.output_tokens or 0
    c_write = getattr(usage, "cache_creation_input_tokens", 0) or 0
    c_read = getattr(usage, "cache_read_input_tokens", 0) or 0
    dollars = (plain * p_in + c_write * p_in * 1.25 + c_read * p_in * 0.1 + out * p_out) / 1e6
    return plain + c_write + c_read, out, dollars


def redis_reply(exc: Exception) -> str:
    """The server's error line as redis-cli shows it: redis-py strips codes like ``OOM`` and adds pipeline noise."""
    msg = str(exc).split("caused error: ", 1)[-1]
    code = getattr(exc, "status_code", None)
    return f"{code} {msg}" if code and not msg.startswith(code) else msg


class Reject(Exception):
    """An early HTTP answer: status, client payload and the ``agent_errors_total`` type (if any)."""

    def __init__(self, status: int, err_type: str | None, payload: dict[str, Any]) -> None:
        super().__init__(err_type or str(status))
        self.status, self.err_type, self.payload = status, err_type, payload


class Metrics:
    """The runbooks' metric names, on a private registry so tests/processes never share state."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter("agent_requests_total", "Chat requests by HTTP status", ["status"], registry=r)
        self.errors = Counter("agent_errors_total", "Chat errors by type", ["type"], registry=r)
        self.duration = Histogram("agent_request_duration_seconds", "Chat request duration", registry=r,
                                  buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60))
        self.tokens = Counter("agent_tokens_used_total", "LLM tokens", ["type", "model"], registry=r)
        self.cost = Counter("agent_cost_dollars_total", "LLM spend in dollars", ["model"], registry=r)
        self.breaker = Gauge("agent_circuit_breaker_state", "1 for the current state", ["state"], registry=r)
        self.cache_bytes = Gauge("agent_context_cache_bytes", "Bytes held by the context cache", registry=r)
        self.requests.labels("200")
        for t in ERROR_TYPES:  # pre-create so rate() over errors works from the first scrape
            self.errors.labels(t)


class CircuitBreaker:
    """5 consecutive upstream availability failures -> open 10 s -> half_open -> closed on a success."""

    def __init__(self, metrics: Metrics, threshold: int = 5, open_s: float = 10.0) -> None:
        self._m, self._threshold, self._open_s = metrics, threshold, open_s
        self._lock = threading.Lock()
        self._state, self._failures, self._opened_at = "closed", 0, 0.0
        self._publish()

    def _publish(self) -> None:
        for s in STATES:
            self._m.breaker.labels(s).set(1 if s == self._state else 0)

    def _set(self, state: str) -> None:
        if state != self._state:
            log("WARNING" if state == "open" else "INFO", "circuit breaker state change", old=self._state, new=state)
            self._state = state
            self._publish()

    def state(self) -> str:
        """Current state; an open breaker turns half_open once its open period has elapsed."""
        with self._lock:
            if self._state == "open" and time.monotonic() - self._opened_at >= self._open_s:
                self._set("half_open")
            return self._state

    def record(self, ok: bool) -> None:
        """Feed one upstream outcome; any half_open failure re-opens immediately."""
        with self._lock:
            if ok:
                self._failures = 0
                self._set("closed")
                return
            self._failures += 1
            if self._state == "half_open" or self._failures >= self._threshold:
                self._opened_at = time.monotonic()
                self._set("open")


class ContextCache:
    """Bounded LRU of assembled request contexts: DELIBERATE, real memory (see module docstring).

    ``bytearray(b"\\x01") * n`` memsets every byte, so every page is touched and counted in RSS and in
    the cgroup; lazily-zeroed allocations would not be, and the OOM drill would not reproduce.
    """

    def __init__(self, entries: int, metrics: Metrics) -> None:
        self._entries, self._m = entries, metrics
        self._lock = threading.Lock()
        self._data: OrderedDict[str, bytearray] = OrderedDict()
        self._bytes = 0

    def assemble(self, conversation_id: str, context_kb: int) -> bytearray:
        """Build this request's context buffer and keep it cached under its conversation."""
        buf = bytearray(b"\x01") * (context_kb * 1024)
        with self._lock:
            old = self._data.pop(conversation_id, None)
            self._bytes -= len(old) if old is not None else 0
            if self._entries > 0 and buf:
                self._data[conversation_id] = buf
                self._bytes += len(buf)
            while len(self._data) > self._entries:
                self._bytes -= len(self._data.popitem(last=False)[1])
            self._m.cache_bytes.set(self._bytes)
        return buf


class TokenBucket:
    """Per-pod limiter for ENABLE_RATE_LIMITING: refills RATE_LIMIT_PER_MINUTE/60 per s, bursts 6 s' worth."""

    def __init__(self, per_minute: int) -> None:
        self._rate, self._cap = per_minute / 60.0, max(1.0, per_minute / 10.0)
        self._tokens, self._at, self._lock = self._cap, time.monotonic(), threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._cap, self._tokens + (now - self._at) * self._rate)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class Agent:
    """Request logic plus the dependencies (Redis, LLM clients) and the health state."""

    def __init__(self, cfg: AgentConfig) -> None:
        self.cfg, self.m = cfg, Metrics()
        no_retry = Retry(NoBackoff(), 0)  # redis-py retries 3x by default; health must answer in < 1.5 s
        self.redis = redis.Redis.from_url(cfg.redis_url, socket_timeout=1, socket_connect_timeout=1, retry=no_retry)
        self.llm = anthropic.Anthropic(api_key=cfg.anthropic_api_key, base_url=cfg.anthropic_base_url,
                                       timeout=cfg.api_timeout, max_retries=0 if cfg.enable_fast_fail else 1)
        self.checker = anthropic.Anthropic(api_key=cfg.anthropic_api_key, base_url=cfg.anthropic_base_url,
                                           timeout=min(cfg.api_timeout, 5.0), max_retries=0)
        self.breaker = CircuitBreaker(self.m)
        self.cache = ContextCache(cfg.context_cache_entries, self.m)
        self.bucket = TokenBucket(cfg.rate_limit_per_minute)
        self.upstream: tuple[str, str] = ("unknown", "no check yet")
        self.stop = threading.Event()

    # ------------------------------------------------------------------------------------- upstream
    def check_upstream_loop(self) -> None:
        """Background credentials check (GET /v1/models): only a 401 fails /health, other errors do not."""
        while not self.stop.is_set():
            try:
                self.checker.models.list()
                state = ("ok", "")
            except anthropic.AuthenticationError:
                state = ("failed", "401 Unauthorized from Anthropic API: Invalid API key")
            except anthropic.APIError as exc:
                state = ("error", f"{type(exc).__name__}: {exc}"[:200])
            if state[0] != self.upstream[0]:
                log("ERROR" if state[0] == "failed" else "INFO", "upstream credentials check changed",
                    old=self.upstream[0], new=state[0], detail=state[1])
            self.upstream = state
            self.stop.wait(self.cfg.upstream_check_interval)

    def _call_llm(self, model: str, system: Any, messages: list[dict[str, Any]]) -> Any:
        """One Messages call; SDK exceptions become Rejects and feed the circuit breaker."""
        try:
            resp = self.llm.messages.create(model=model, max_tokens=256, system=system, messages=messages)
        except anthropic.AuthenticationError as exc:  # a config problem, not unavailability: no breaker trip
            self.upstream = ("failed", "401 Unauthorized from Anthropic API: Invalid API key")
            log("ERROR", "401 Unauthorized from Anthropic API: Invalid API key", request_id=exc.request_id)
            raise Reject(502, "upstream_auth", {"error": "upstream_auth"}) from None
        except anthropic.RateLimitError as exc:
            self.breaker.record(False)
            log("ERROR", "429 Too Many Requests rate_limit_error from Anthropic API", request_id=exc.request_id)
            raise Reject(503, "upstream_rate_limit", {"error": "upstream_rate_limit"}) from None
        except anthropic.APITimeoutError:
            self.breaker.record(False)
            log("ERROR", "Timeout calling Anthropic API", timeout_s=self.cfg.api_timeout)
            raise Reject(504, "upstream_timeout", {"error": "upstream_timeout"}) from None
        except anthropic.APIError as exc:
            if not isinstance(exc, anthropic.APIStatusError) or exc.status_code >= 500:
                self.breaker.record(False)
            log("ERROR", f"Anthropic API error: {type(exc).__name__}: {exc}"[:300])
            raise Reject(502, "upstream_error", {"error": "upstream_error"}) from None
        self.breaker.record(True)
        return resp

    # ----------------------------------------------------------------------------------------- chat
    def _prompt(self, history: list[dict[str, Any]], message: str) -> tuple[Any, list[dict[str, Any]]]:
        """History -> (system, messages), applying summarisation, token truncation and prompt caching."""
        turns = [{"role": h["role"], "content": h["content"]} for h in history
                 if isinstance(h, dict) and h.get("role") in ("user", "assistant") and isinstance(h.get("content"), str)]
        summary = ""
        if self.cfg.enable_summarization and len(turns) > 2 * SUMMARY_KEEP_TURNS:
            old, turns = turns[: -2 * SUMMARY_KEEP_TURNS], turns[-2 * SUMMARY_KEEP_TURNS:]
            gist = " | ".join(t["content"][:60] for t in old if t["role"] == "user")[:600]
            summary = f"Summary of {len(old)} earlier messages (user topics): {gist}"  # local, no extra LLM call
        if self.cfg.max_history_tokens > 0:
            budget = self.cfg.max_history_tokens * 4 - len(message)  # ~4 chars per token
            while turns and sum(len(t["content"]) for t in turns) > budget:
                turns = turns[1:]
        while turns and turns[0]["role"] != "user":
            turns = turns[1:]
        messages = turns + [{"role": "user", "content": message}]
        if self.cfg.enable_prompt_caching:  # the static prefix is cached; the changing summary comes after it
            blocks = [{"type": "text", "text": SYSTEM_PROMPT, "cache_control": {"type": "ephemeral"}}]
            return blocks + ([{"type": "text", "text": summary}] if summary else []), messages
        return (f"{SYSTEM_PROMPT}\n\n{summary}" if summary else SYSTEM_PROMPT), messages

    def chat(self, body: Any, fields: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Serve one chat request; raises Reject for every non-200 outcome."""
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) and body.get(k)
                                                 for k in ("user_id", "conversation_id", "message")):
            raise Reject(400, "bad_request", {"error": "bad_request: user_id, conversation_id, message required"})
        kb = body.get("context_kb", 0)
        if not isinstance(kb, int) or isinstance(kb, bool) or not 0 <= kb <= MAX_CONTEXT_KB:
            raise Reject(400, "bad_request", {"error": f"bad_request: context_kb must be 0..{MAX_CONTEXT_KB}"})
        cfg, r, user, conv, message = self.cfg, self.redis, body["user_id"], body["conversation_id"], body["message"]
        fields["user"] = user
        try:
            if r.exists(f"blocked:user:{user}"):
                raise Reject(403, "blocked", {"error": "blocked"})
            if cfg.enable_rate_limiting and not self.bucket.take():
                raise Reject(429, "rate_limited", {"error": "rate_limited", "scope": "pod"})
            if cfg.rate_limit_per_user > 0:
                key = f"ratelimit:user:{user}:{int(time.time() // 60)}"
                count, _ = r.pipeline(transaction=False).incr(key).expire(key, 120).execute()
                if count > cfg.rate_limit_per_user:
                    raise Reject(429, "rate_limited", {"error": "rate_limited", "scope": "user"})
            budget_key = f"budget:{dt.datetime.now(dt.timezone.utc):%Y-%m-%d}"
            if cfg.enforce_budget and cfg.daily_budget_dollars > 0:
                if float(r.get(budget_key) or 0) >= cfg.daily_budget_dollars:
                    raise Reject(402, "budget_exceeded", {"error": "budget_exceeded"})
            if self.breaker.state() == "open":
                if cfg.enable_degraded_mode:
                    fields["degraded"] = True
                    return 200, {"reply": DEGRADED_REPLY, "model": None, "degraded": True,
                                 "usage": {"input_tokens": 0, "output_tokens": 0}}
                raise Reject(503, "upstream_error", {"error": "circuit_open"})
            n = cfg.max_history_length * 2
            history = [json.loads(x) for x in r.lrange(f"conv:{conv}", -n, -1)] if n else []
            model = HAIKU if cfg.enable_model_routing and len(message) < 200 else cfg.default_model
            system, messages = self._prompt(history, message)
            context = self.cache.assemble(conv, kb)  # held for the whole request, cached afterwards
            resp = self._call_llm(model, system, messages)
            tokens_in, tokens_out, dollars = cost_of(model, resp.usage)
            self.m.tokens.labels("input", model).inc(tokens_in)
            self.m.tokens.labels("output", model).inc(tokens_out)
            self.m.cost.labels(model).inc(dollars)
            fields.update(model=model, tokens=tokens_in + tokens_out, cost=dollars, context_bytes=len(context))
            text = "".join(getattr(b, "text", "") for b in resp.content)
            pipe = r.pipeline(transaction=False)
            if n:
                pipe.rpush(f"conv:{conv}", json.dumps({"role": "user", "content": message}),
                           json.dumps({"role": "assistant", "content": text}))
                pipe.ltrim(f"conv:{conv}", -n, -1).expire(f"conv:{conv}", 86400)
            pipe.incrbyfloat(budget_key, dollars).expire(budget_key, 2 * 86400).execute()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            kw = r.connection_pool.connection_kwargs
            refused = " ECONNREFUSED" if "refused" in str(exc).lower() else ""
            log("ERROR", f"ConnectionError: Cannot connect to Redis{refused} {kw.get('host')}:{kw.get('port')}: {exc}")
            raise Reject(503, "redis_connection", {"error": "redis_unavailable"}) from None
        except redis.RedisError as exc:  # e.g. "OOM command not allowed ...", "MISCONF ..." (ResponseError)
            detail = redis_reply(exc)
            log("ERROR", f"Redis error: {detail}")
            raise Reject(503, "redis_error", {"error": "redis_error", "detail": detail[:200]}) from None
        return 200, {"reply": text, "model": resp.model, "usage": resp.usage.model_dump(exclude_none=True)}

    def health(self) -> tuple[int, dict[str, Any]]:
        """Redis PING (bounded by 1 s socket timeouts) + last credentials check; 503 names what failed."""
        checks: dict[str, str] = {}
        try:
            self.redis.ping()
            checks["redis"] = "ok"
        except redis.RedisError as exc:
            checks["redis"] = f"failed: {type(exc).__name__}: {exc}"[:200]
        state, detail = self.upstream
        checks["upstream_auth"] = state if state in ("ok", "unknown") else f"{state}: {detail}"
        failed = [k for k, v in checks.items() if v.startswith("failed")]
        body = {"status": "unavailable" if failed else "ok", "pod": self.cfg.pod_name, "checks": checks}
        if failed:
            body["failed"] = failed
        return (503 if failed else 200), body


class Handler(BaseHTTPRequestHandler):
    """Routes /v1/chat, /health and /metrics; HTTP/1.1 keep-alive so load generators reuse sockets."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # header and body are separate writes: avoid 40 ms delayed-ACK stalls
    server_version = "refsystem-agent/1"
    agent: Agent

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence the stdlib access log; /v1/chat gets its own logfmt line."""

    def _send(self, status: int, data: bytes, ctype: str = "application/json") -> None:
        try:
            self.send_response(status)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        path = self.path.split("?", 1)[0]
        if path == "/health":
            status, body = self.agent.health()
            self._send(status, json.dumps(body).encode())
        elif path == "/metrics":
            self.agent.breaker.state()  # let an elapsed open period show up as half_open on scrape
            self._send(200, generate_latest(self.agent.m.registry), CONTENT_TYPE_LATEST)
        else:
            self._send(404, b'{"error":"not_found"}')

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        if self.path.split("?", 1)[0] != "/v1/chat":
            self._send(404, b'{"error":"not_found"}')
            return
        agent, started = self.agent, time.monotonic()
        fields: dict[str, Any] = {"user": "-", "model": "-", "tokens": 0, "cost": 0.0}
        try:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                body = json.loads(raw)
            except ValueError:
                raise Reject(400, "bad_request", {"error": "bad_request: body is not JSON"}) from None
            status, payload = agent.chat(body, fields)
        except Reject as rej:
            status, payload = rej.status, rej.payload
            if rej.err_type:
                agent.m.errors.labels(rej.err_type).inc()
                fields["error"] = rej.err_type
        except Exception as exc:  # noqa: BLE001 - a request must never kill the server thread
            log("ERROR", f"internal error: {type(exc).__name__}: {exc}", tb=traceback.format_exc(limit=3))
            status, payload = 500, {"error": "internal"}
            agent.m.errors.labels("internal").inc()
        duration = time.monotonic() - started
        agent.m.requests.labels(str(status)).inc()
        agent.m.duration.observe(duration)
        self._send(status, json.dumps(payload).encode())
        log("INFO" if status < 500 else "WARNING", "chat request", status=status, duration=duration,
            cost=fields.pop("cost"), tokens=fields.pop("tokens"), user=fields.pop("user"), **fields)


class AgentServer(ThreadingHTTPServer):
    """Threaded server with a real listen backlog (the stdlib default of 5 drops bursts)."""

    daemon_threads = True
    request_queue_size = 256


def main() -> None:
    """Entry point: validate env (exit 1 like the runbook), start the checker thread, serve until SIGTERM."""
    cfg = load_agent_config_or_exit()
    agent = Agent(cfg)
    try:
        server = AgentServer((cfg.host, cfg.port), type("BoundHandler", (Handler,), {"agent": agent}))
    except OSError as exc:
        log("ERROR", f"cannot bind {cfg.host}:{cfg.port}: {exc}")
        raise SystemExit(1) from None
    threading.Thread(target=agent.check_upstream_loop, name="upstream-check", daemon=True).start()

    def _stop(signum: int, _frame: object) -> None:
        log("INFO", "agent stopping", signal=signum)
        agent.stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stop)
    log("INFO", "agent listening", pod=cfg.pod_name, **{k: v for k, v in cfg.redacted().items() if k != "pod_name"})
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    log("INFO", "agent stopped", pod=cfg.pod_name)


if __name__ == "__main__":
    main()
