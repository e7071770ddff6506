"""What the agent remembers of a conversation and what it sends upstream for the next turn.

Why it exists: the Cost-Spike and High-Latency remediations (Runbook 4, causes 2 and 3; Runbook 3,
cause 4) work by changing the prompt - ``MAX_HISTORY_LENGTH``, ``MAX_HISTORY_TOKENS``,
``ENABLE_SUMMARIZATION``, ``ENABLE_PROMPT_CACHING``, ``ENABLE_MODEL_ROUTING`` - so each knob here
really changes the tokens billed and the latency seen, and a drill can measure the difference.

History lives in Redis as ``conv:<id>``, a list of JSON ``{"role", "content"}`` turns kept for a day.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from refsystem.config import AgentConfig

HAIKU = "claude-3-haiku-20240307"
SYSTEM_PROMPT = ("You are the production support agent. Answer concisely and accurately. " * 12).strip()
SUMMARY_KEEP_TURNS = 4
HISTORY_TTL_S = 86400


def load_history(r: redis.Redis, conv: str, n: int) -> list[Any]:
    """The last ``n`` stored messages of ``conv`` (none when history is switched off with n=0)."""
    return [json.loads(x) for x in r.lrange(f"conv:{conv}", -n, -1)] if n else []


def remember(pipe: Any, conv: str, n: int, message: str, reply: str) -> None:
    """Queue this turn onto ``pipe`` (the caller's pipeline, executed with the budget update), capped at n."""
    if n:
        pipe.rpush(f"conv:{conv}", json.dumps({"role": "user", "content": message}),
                   json.dumps({"role": "assistant", "content": reply}))
        pipe.ltrim(f"conv:{conv}", -n, -1).expire(f"conv:{conv}", HISTORY_TTL_S)


def choose_model(cfg: AgentConfig, message: str) -> str:
    """Model routing: short messages go to Haiku when ENABLE_MODEL_ROUTING is on."""
    return HAIKU if cfg.enable_model_routing and len(message) < 200 else cfg.default_model


def build_prompt(cfg: AgentConfig, history: list[Any], message: str) -> tuple[Any, list[dict[str, Any]]]:
    """History -> (system, messages), applying summarisation, token truncation and prompt caching."""
    turns = [{"role": h["role"], "content": h["content"]} for h in history
             if isinstance(h, dict) and h.get("role") in ("user", "assistant") and isinstance(h.get("content"), str)]
    summary = ""
    if cfg.enable_summarization and len(turns) > 2 * SUMMARY_KEEP_TURNS:
        old, turns = turns[: -2 * SUMMARY_KEEP_TURNS], turns[-2 * SUMMARY_KEEP_TURNS:]
        gist = " | ".join(t["content"][:60] for t in old if t["role"] == "user")[:600]
        summary = f"Summary of {len(old)} earlier messages (user topics): {gist}"  # local, no extra LLM call
    if cfg.max_history_tokens > 0:
        budget = cfg.max_history_tokens * 4 - len(message)  # ~4 chars per token
        while turns and sum(len(t["content"]) for t in turns) > budget:
            turns = turns[1:]
    while turns and turns[0]["role"] != "user":
        turns = turns[1:]
    messages: list[dict[str, Any]] = turns + [{"role": "user", "content": message}]
    if cfg.enable_prompt_caching:
        return _cache_breakpoints(summary, messages)
    return (f"{SYSTEM_PROMPT}\n\n{summary}" if summary else SYSTEM_PROMPT), messages


def _cache_breakpoints(summary: str, messages: list[dict[str, Any]]) -> tuple[Any, list[dict[str, Any]]]:
    """Mark the prompt for the API's prompt cache, as the provider recommends for multi-turn chat.

    Two breakpoints: the static system prompt, and the last message of the history, so next turn's
    request (the same history plus one turn) reads everything up to there from the cache. The API only
    caches a prefix of at least the model's minimum length (1024 tokens for Sonnet), so short
    conversations are unaffected and long ones - the expensive case of Runbook 4, cause 2 - are billed
    their history at a tenth of the input price.
    """
    system = [{"type": "text", "text": SYSTEM_PROMPT, "cache_control": {"type": "ephemeral"}}]
    if summary:
        system.append({"type": "text", "text": summary})
    if len(messages) > 1:
        last = messages[-2]
        messages = [*messages[:-2], {"role": last["role"], "content": [
            {"type": "text", "text": last["content"], "cache_control": {"type": "ephemeral"}}]}, messages[-1]]
    return system, messages
