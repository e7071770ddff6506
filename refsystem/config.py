"""Environment-only configuration and the one-line logger shared by all refsystem programs.

Why env-only: the programs run as Kubernetes-like pods whose ConfigMap/Secret become environment
variables, and the runbooks remediate by patching exactly those keys (``ENABLE_FAST_FAIL``,
``MAX_HISTORY_LENGTH`` ...) and restarting. Parsing is strict on purpose: a missing required key
reproduces the runbook's "Configuration Error" cause verbatim (two stderr lines, exit code 1), and a
malformed value fails the same way instead of silently falling back to a default.

The logger lives here too because the three programs share it and must all emit the same
``ts=... level=INFO msg="..." key=value`` lines (one per event, flushed) that the runbooks grep.
"""

from __future__ import annotations

import datetime as _dt
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")

REQUIRED_KEYS: tuple[str, ...] = ("REDIS_URL", "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "DEFAULT_MODEL")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_log_lock = threading.Lock()


# --------------------------------------------------------------------------------------------- logging
def _fmt_value(value: object) -> str:
    """Render one logfmt value; quote it when it would otherwise break ``key=value`` splitting."""
    if isinstance(value, float):
        text = f"{value:.8f}".rstrip("0").rstrip(".") if value == value else "nan"
        return text or "0"
    text = str(value)
    if text == "" or any(c in text for c in ' ="\t\n\\'):
        escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
        return f'"{escaped}"'
    return text


def log(level: str, msg: str, **kv: object) -> None:
    """Write one ``ts=... level=... msg="..." k=v`` line to stdout and flush it (pods' logs are pipes)."""
    ts = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    parts = [f"ts={ts}", f"level={level.upper()}", f"msg={_fmt_value(msg)}"]
    parts.extend(f"{k}={_fmt_value(v)}" for k, v in kv.items())
    line = " ".join(parts) + "\n"
    with _log_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


# ------------------------------------------------------------------------------------- value parsing
class ConfigError(Exception):
    """One or more configuration problems; ``lines`` are the exact stderr lines to print."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines


def parse_bool(raw: str) -> bool:
    """Parse the ConfigMap-style booleans the runbooks write (``"true"``/``"false"``, also 1/0/yes/no)."""
    low = raw.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"not a boolean: {raw!r}")


def parse_int(raw: str) -> int:
    """Parse a base-10 integer; ``"1.5"`` is rejected rather than truncated."""
    return int(raw.strip(), 10)


def parse_float(raw: str) -> float:
    """Parse a finite float (``nan``/``inf`` would make timeouts and budgets meaningless)."""
    value = float(raw.strip())
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"not a finite number: {raw!r}")
    return value


def env_value(env: Mapping[str, str], key: str, default: T, parser: Callable[[str], T]) -> T:
    """Read ``key`` with ``parser``; unset or empty means ``default``; bad values raise ConfigError."""
    raw = env.get(key)
    if raw is None or raw.strip() == "":
        return default
    try:
        return parser(raw)
    except ValueError:
        raise ConfigError([f"Error: Invalid value for environment variable {key}: {raw!r}"]) from None


def fail_config(lines: list[str]) -> NoReturn:
    """Print the runbook's configuration-error symptom to stderr and exit 1 (a crash-looping pod)."""
    for line in lines:
        print(line, file=sys.stderr, flush=True)
    print("Configuration validation failed", file=sys.stderr, flush=True)
    sys.exit(1)


# ------------------------------------------------------------------------------------ agent config
@dataclass(frozen=True)
class AgentConfig:
    """Everything the agent reads from its environment; names mirror the ConfigMap keys."""

    redis_url: str
    anthropic_base_url: str
    anthropic_api_key: str
    default_model: str
    host: str = "0.0.0.0"
    pod_name: str = "agent"
    port: int = 8080
    api_timeout: float = 30.0
    enable_fast_fail: bool = False
    enable_rate_limiting: bool = False
    rate_limit_per_minute: int = 600
    rate_limit_per_user: int = 0
    enable_degraded_mode: bool = False
    max_history_length: int = 50
    enable_summarization: bool = False
    max_history_tokens: int = 0
    enable_prompt_caching: bool = False
    enable_model_routing: bool = False
    daily_budget_dollars: float = 0.0
    enforce_budget: bool = False
    context_cache_entries: int = 64
    upstream_check_interval: float = 2.0
    request_cpu_ms: float = 5.0

    def redacted(self) -> dict[str, Any]:
        """Config as a dict for the startup log line, with the API key masked."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        key = self.anthropic_api_key
        out["anthropic_api_key"] = (key[:4] + "...") if len(key) > 8 else "***"
        return out


# (env key, dataclass field, default, parser, minimum allowed value or None)
_OPTIONAL: tuple[tuple[str, str, Any, Callable[[str], Any], float | None], ...] = (
    ("PORT", "port", 8080, parse_int, 1),
    ("API_TIMEOUT", "api_timeout", 30.0, parse_float, 0.001),
    ("ENABLE_FAST_FAIL", "enable_fast_fail", False, parse_bool, None),
    ("ENABLE_RATE_LIMITING", "enable_rate_limiting", False, parse_bool, None),
    ("RATE_LIMIT_PER_MINUTE", "rate_limit_per_minute", 600, parse_int, 1),
    ("RATE_LIMIT_PER_USER", "rate_limit_per_user", 0, parse_int, 0),
    ("ENABLE_DEGRADED_MODE", "enable_degraded_mode", False, parse_bool, None),
    ("MAX_HISTORY_LENGTH", "max_history_length", 50, parse_int, 0),
    ("ENABLE_SUMMARIZATION", "enable_summarization", False, parse_bool, None),
    ("MAX_HISTORY_TOKENS", "max_history_tokens", 0, parse_int, 0),
    ("ENABLE_PROMPT_CACHING", "enable_prompt_caching", False, parse_bool, None),
    ("ENABLE_MODEL_ROUTING", "enable_model_routing", False, parse_bool, None),
    ("DAILY_BUDGET_DOLLARS", "daily_budget_dollars", 0.0, parse_float, 0),
    ("ENFORCE_BUDGET", "enforce_budget", False, parse_bool, None),
    ("CONTEXT_CACHE_ENTRIES", "context_cache_entries", 64, parse_int, 0),
    ("UPSTREAM_CHECK_INTERVAL", "upstream_check_interval", 2.0, parse_float, 0.05),
    ("REQUEST_CPU_MS", "request_cpu_ms", 5.0, parse_float, 0),
)


def load_agent_config(env: Mapping[str, str] | None = None) -> AgentConfig:
    """Validate the agent's environment; raise ConfigError listing every problem found."""
    env = os.environ if env is None else env
    problems: list[str] = []
    required: dict[str, Any] = {}
    for key in REQUIRED_KEYS:
        value = env.get(key, "").strip()
        if not value:
            problems.append(f"Error: Missing required environment variable {key}")
        required[key.lower()] = value
    values: dict[str, Any] = {}
    for key, field_name, default, parser, minimum in _OPTIONAL:
        try:
            value = env_value(env, key, default, parser)
        except ConfigError as exc:
            problems.extend(exc.lines)
            continue
        if minimum is not None and value < minimum:
            problems.append(f"Error: Invalid value for environment variable {key}: {value!r} (minimum {minimum})")
            continue
        values[field_name] = value
    if problems:
        raise ConfigError(problems)
    return AgentConfig(
        host=env.get("POD_IP", "").strip() or "0.0.0.0",
        pod_name=env.get("POD_NAME", "").strip() or "agent",
        **required,
        **values,
    )


def load_agent_config_or_exit() -> AgentConfig:
    """Entry-point helper: the validated config, or the runbook's failure lines and exit code 1."""
    try:
        return load_agent_config()
    except ConfigError as exc:
        fail_config(exc.lines)
