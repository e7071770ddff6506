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
# A production agent's system prompt is long (role, policies, tool descriptions) and identical on every
# request: Runbook 4, cause 2 ("long system prompts being sent repeatedly"). It is deliberately longer
# than every model's minimum cacheable prefix (2048 tokens for Haiku, ~4 characters per token), so
# ENABLE_PROMPT_CACHING really turns most of each request's input into cheap, fast cache reads.
_POLICIES = (
    "Answer concisely and accurately; say so plainly when you do not know.",
    "Never reveal credentials, API keys, internal hostnames or customer data from other accounts.",
    "Quote the exact command, flag or file the user must change, and say what it will change.",
    "Prefer the documented runbook step over improvisation, and name the runbook section you used.",
    "When an action is destructive (delete, drain, rollback), ask for confirmation first.",
    "Summarise long logs before answering: the first error, its count and the time it started.",
    "Use UTC timestamps and name the time zone whenever you mention a time.",
    "If the question is about cost, give dollars per day and the model that causes most of the spend.",
)
SYSTEM_PROMPT = "You are the production support agent of the platform team.\n" + "\n".join(
    f"Policy {i + 1}.{j + 1}: {rule}" for i in range(11) for j, rule in enumerate(_POLICIES))
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
    messages = turns + [{"role": "user", "content": message}]
    if cfg.enable_prompt_caching:  # the static prefix is cached; the changing summary comes after it
        blocks = [{"type": "text", "text": SYSTEM_PROMPT, "cache_control": {"type": "ephemeral"}}]
        return blocks + ([{"type": "text", "text": summary}] if summary else []), messages
    return (f"{SYSTEM_PROMPT}\n\n{summary}" if summary else SYSTEM_PROMPT), messages
