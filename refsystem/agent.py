"""The "production-agent" chat service that drills break and runbooks repair: wiring and HTTP routes.

Why each piece exists (all modelled on the runbooks in ``/work/shared/seed/incident-runbooks.md``):

* ``POST /v1/chat`` keeps conversation history in Redis (``conv:<id>``), honours the abuse block key
  ``blocked:user:<id>``, per-user and per-pod rate limits, a daily budget (``budget:<date>``), model
  routing and history truncation/summarisation/prompt caching - so each Cost-Spike / High-Latency
  remediation changes real behaviour and real metrics (:mod:`refsystem.limits`,
  :mod:`refsystem.conversation`).
* The upstream call uses the official ``anthropic`` SDK (pointed at the local stub by
  ``ANTHROPIC_BASE_URL``), so timeouts, retries and error classes are the SDK's own
  (:mod:`refsystem.upstream`, guarded by :mod:`refsystem.breaker`).
* Request contexts are real, touched memory held in a bounded LRU (``CONTEXT_CACHE_ENTRIES``). This is
  DELIBERATE: it makes the pod's RSS follow the traffic's ``context_kb``, so a too-small cgroup memory
  limit gets the process OOM-killed by the kernel (Runbook 1, cause 1) instead of by a simulation
  (:mod:`refsystem.context_cache`).
* Each request spends ``REQUEST_CPU_MS`` of real CPU time (:mod:`refsystem.cpu`), so a CPU limit
  throttles it and more replicas or a higher limit relieve it (Runbook 3, cause 2).
* ``/health`` fails on Redis PING (1 s socket timeouts, no retries) or a 401 from the background
  credentials check, so "Agent Down"/"Redis Failure" symptoms appear within about a second.
* ``/metrics`` exposes exactly the metric names the runbooks query (private registry per process,
  :mod:`refsystem.metrics`).
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from typing import Any

import redis
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.backoff import NoBackoff
from redis.retry import Retry

from refsystem.breaker import CircuitBreaker, CircuitOpen
from refsystem.config import AgentConfig, load_agent_config_or_exit, log
from refsystem.context_cache import ContextCache
from refsystem.conversation import build_prompt, choose_model, load_history, remember
from refsystem.cpu import spend_cpu
from refsystem.httpjson import JSONHandler, JSONServer
from refsystem.limits import Limits
from refsystem.metrics import Metrics, Reject
from refsystem.upstream import Upstream

DEGRADED_REPLY = "The assistant is temporarily running in degraded mode. Please try again in a few minutes."
MAX_CONTEXT_KB = 65536
NOT_FOUND = b'{"error":"not_found"}'


def redis_reply(exc: Exception) -> str:
    """The server's error line as redis-cli shows it: redis-py strips codes like ``OOM`` and adds pipeline noise."""
    msg = str(exc).split("caused error: ", 1)[-1]
    code = getattr(exc, "status_code", None)
    return f"{code} {msg}" if code and not msg.startswith(code) else msg


class Agent:
    """Request logic plus the dependencies (Redis, LLM clients) and the health state."""

    def __init__(self, cfg: AgentConfig) -> None:
        self.cfg, self.m = cfg, Metrics()
        no_retry = Retry(NoBackoff(), 0)  # redis-py retries 3x by default; health must answer in < 1.5 s
        self.redis = redis.Redis.from_url(cfg.redis_url, socket_timeout=1, socket_connect_timeout=1, retry=no_retry)
        self.breaker = CircuitBreaker(self.m)
        self.upstream = Upstream(cfg, self.breaker)
        self.cache = ContextCache(cfg.context_cache_entries, self.m)
        self.limits = Limits(cfg)
        self.stop = threading.Event()

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
            budget_key = self.limits.admit(r, user)
            if self.breaker.state() == "open":  # cheap early answer; upstream.call gates half_open probes
                return self.circuit_open(fields)
            n = cfg.max_history_length * 2
            history = load_history(r, conv, n)
            model = choose_model(cfg, message)
            system, messages = build_prompt(cfg, history, message)
            context = self.cache.assemble(conv, kb)  # held for the whole request, cached afterwards
            spend_cpu(cfg.request_cpu_ms)  # the request's own CPU work (see refsystem.cpu)
            try:
                resp = self.upstream.call(model, system, messages)
            except CircuitOpen:
                return self.circuit_open(fields)
            tokens_in, tokens_out, dollars = self.m.spend(model, resp.usage)
            fields.update(model=model, tokens=tokens_in + tokens_out, cost=dollars, context_bytes=len(context))
            text = "".join(getattr(b, "text", "") for b in resp.content)
            pipe = r.pipeline(transaction=False)
            remember(pipe, conv, n, message, text)
            pipe.incrbyfloat(budget_key, dollars)
            pipe.expire(budget_key, 2 * 86400)
            pipe.execute()
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

    def circuit_open(self, fields: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The answer when the breaker refuses the call: the canned reply in degraded mode, else a 503."""
        if not self.cfg.enable_degraded_mode:
            raise Reject(503, "upstream_error", {"error": "circuit_open"})
        fields["degraded"] = True
        return 200, {"reply": DEGRADED_REPLY, "model": None, "degraded": True,
                     "usage": {"input_tokens": 0, "output_tokens": 0}}

    def health(self) -> tuple[int, dict[str, Any]]:
        """Redis PING (bounded by 1 s socket timeouts) + last credentials check; 503 names what failed."""
        checks: dict[str, str] = {}
        try:
            self.redis.ping()
            checks["redis"] = "ok"
        except redis.RedisError as exc:
            checks["redis"] = f"failed: {type(exc).__name__}: {exc}"[:200]
        state, detail = self.upstream.state
        checks["upstream_auth"] = state if state in ("ok", "unknown") else f"{state}: {detail}"
        failed = [k for k, v in checks.items() if v.startswith("failed")]
        body: dict[str, Any] = {"status": "unavailable" if failed else "ok", "pod": self.cfg.pod_name, "checks": checks}
        if failed:
            body["failed"] = failed
        return (503 if failed else 200), body


class Handler(JSONHandler):
    """Routes /v1/chat, /health and /metrics; counts and logs every chat request once."""

    server_version = "refsystem-agent/1"
    agent: Agent

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        path = self.route
        if path == "/health":
            status, body = self.agent.health()
            self.send_json(status, body)
        elif path == "/metrics":
            self.agent.breaker.state()  # let an elapsed open period show up as half_open on scrape
            self.send_bytes(200, generate_latest(self.agent.m.registry), CONTENT_TYPE_LATEST)
        else:
            self.send_bytes(404, NOT_FOUND)

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        if self.route != "/v1/chat":
            self.send_bytes(404, NOT_FOUND)
            return
        agent, started = self.agent, time.monotonic()
        fields: dict[str, Any] = {"user": "-", "model": "-", "tokens": 0, "cost": 0.0}
        try:
            raw = self.read_body()
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
        self.send_json(status, payload)
        log("INFO" if status < 500 else "WARNING", "chat request", status=status, duration=duration,
            cost=fields.pop("cost"), tokens=fields.pop("tokens"), user=fields.pop("user"), **fields)


def main(agent_type: type[Agent] = Agent) -> None:
    """Entry point: validate env (exit 1 like the runbook), start the checker thread, serve until SIGTERM.

    ``agent_type``: the request logic of this image version (a later release subclasses :class:`Agent`)."""
    cfg = load_agent_config_or_exit()
    agent = agent_type(cfg)
    try:
        server = JSONServer(cfg.host, cfg.port, Handler, agent=agent)
    except OSError as exc:
        log("ERROR", f"cannot bind {cfg.host}:{cfg.port}: {exc}")
        raise SystemExit(1) from None
    threading.Thread(target=agent.upstream.check_loop, args=(agent.stop,), name="upstream-check",
                     daemon=True).start()

    def _stopping(signum: int) -> None:
        log("INFO", "agent stopping", signal=signum)
        agent.stop.set()

    server.stop_on_signals(_stopping)
    log("INFO", "agent listening", pod=cfg.pod_name, **{k: v for k, v in cfg.redacted().items() if k != "pod_name"})
    server.serve()
    log("INFO", "agent stopped", pod=cfg.pod_name)


if __name__ == "__main__":
    main()
