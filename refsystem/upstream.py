"""The agent's side of the upstream LLM: SDK clients, the credentials check, and error mapping.

Why it exists: drills break the upstream (revoked key, 429s, slowness, overload) and the runbooks
recognise each by its symptom, so every SDK failure must turn into the status, ``agent_errors_total``
type and log line the runbooks name ("401 Unauthorized from Anthropic API: Invalid API key",
"429 Too Many Requests rate_limit_error", "Timeout calling Anthropic API"). The official ``anthropic``
SDK is used unmodified (pointed at the local stub by ``ANTHROPIC_BASE_URL``), so its timeouts,
retries and error classes are real; ``ENABLE_FAST_FAIL`` turns its one retry off.

Replies are streamed (``messages.stream``), as chat services do and as the provider recommends for long
requests. That decides what ``API_TIMEOUT`` bounds: the SDK's timeout applies to each read (connect, the
response's start, then every chunk), not to the whole call. A provider that holds the call before
answering meets it (a 504 ``upstream_timeout``, retried once unless fast-fail); a long prompt whose answer
has started, and which the provider keeps alive with ``ping`` events while the model reads it, does not:
such a call simply takes as long as it takes (Runbook 3, Cause 4).

A background credentials check (``GET /v1/models``) records its outcome in :attr:`Upstream.state`;
only a 401 fails ``/health`` (Runbook 1, cause 4), other errors do not.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, cast

import anthropic
import httpx2

from refsystem.breaker import CircuitBreaker, CircuitOpen
from refsystem.config import AgentConfig, log
from refsystem.metrics import Reject

if TYPE_CHECKING:
    from anthropic.types import MessageParam

AUTH_FAILED = "401 Unauthorized from Anthropic API: Invalid API key"


class Upstream:
    """The Messages client, the credentials checker and the last check's ``(state, detail)``."""

    def __init__(self, cfg: AgentConfig, breaker: CircuitBreaker) -> None:
        self.cfg, self.breaker = cfg, breaker
        self.llm = anthropic.Anthropic(api_key=cfg.anthropic_api_key, base_url=cfg.anthropic_base_url,
                                       timeout=cfg.api_timeout, max_retries=0 if cfg.enable_fast_fail else 1)
        self.checker = anthropic.Anthropic(api_key=cfg.anthropic_api_key, base_url=cfg.anthropic_base_url,
                                           timeout=min(cfg.api_timeout, 5.0), max_retries=0)
        self.state: tuple[str, str] = ("unknown", "no check yet")

    def check_loop(self, stop: threading.Event) -> None:
        """Background credentials check (GET /v1/models): only a 401 fails /health, other errors do not."""
        while not stop.is_set():
            try:
                self.checker.models.list()
                state = ("ok", "")
            except anthropic.AuthenticationError:
                state = ("failed", AUTH_FAILED)
            except anthropic.APIError as exc:
                state = ("error", f"{type(exc).__name__}: {exc}"[:200])
            if state[0] != self.state[0]:
                log("ERROR" if state[0] == "failed" else "INFO", "upstream credentials check changed",
                    old=self.state[0], new=state[0], detail=state[1])
            self.state = state
            stop.wait(self.cfg.upstream_check_interval)

    def call(self, model: str, system: Any, messages: list[dict[str, Any]]) -> Any:
        """One Messages call through the circuit breaker; SDK exceptions become Rejects.

        Raises :class:`~refsystem.breaker.CircuitOpen` without calling when the breaker refuses. Every
        call that was let through records its outcome (or releases its half-open probe), on every path.
        """
        if not self.breaker.allow():
            raise CircuitOpen
        try:
            return self._call(model, system, messages)
        except Reject:
            raise  # the outcome was recorded
        except BaseException:
            self.breaker.release()  # an unexpected error before any outcome: free a half-open probe
            raise

    def _call(self, model: str, system: Any, messages: list[dict[str, Any]]) -> Any:
        try:
            with self.llm.messages.stream(model=model, max_tokens=256, system=system,
                                          messages=cast("list[MessageParam]", messages)) as stream:
                resp = stream.get_final_message()
        except anthropic.AuthenticationError as exc:  # a config problem, not unavailability: no breaker trip
            self.breaker.record(True)  # the upstream answered, so it is available
            self.state = ("failed", AUTH_FAILED)
            log("ERROR", AUTH_FAILED, request_id=exc.request_id)
            raise Reject(502, "upstream_auth", {"error": "upstream_auth"}) from None
        except anthropic.RateLimitError as exc:
            self.breaker.record(False)
            log("ERROR", "429 Too Many Requests rate_limit_error from Anthropic API", request_id=exc.request_id)
            raise Reject(503, "upstream_rate_limit", {"error": "upstream_rate_limit"}) from None
        except (anthropic.APITimeoutError, httpx2.TimeoutException):  # before the answer started / in it
            self.breaker.record(False)
            log("ERROR", "Timeout calling Anthropic API", timeout_s=self.cfg.api_timeout)
            raise Reject(504, "upstream_timeout", {"error": "upstream_timeout"}) from None
        except anthropic.APIError as exc:
            available = isinstance(exc, anthropic.APIStatusError) and exc.status_code < 500
            self.breaker.record(available)
            log("ERROR", f"Anthropic API error: {type(exc).__name__}: {exc}"[:300])
            raise Reject(502, "upstream_error", {"error": "upstream_error"}) from None
        except httpx2.TransportError as exc:  # the stream broke off after it started (the SDK does not wrap it)
            self.breaker.record(False)
            log("ERROR", f"Anthropic API error: stream broken: {type(exc).__name__}: {exc}"[:300])
            raise Reject(502, "upstream_error", {"error": "upstream_error"}) from None
        self.breaker.record(True)
        return resp
