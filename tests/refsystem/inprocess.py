"""In-process parts for the flag and stub tests: the LLM stub on a thread, an agent without its HTTP server.

Why: each agent behaviour behind a flag, and each rule of the stub, is checked through the same code
the processes run (the stub's real ``JSONServer`` and handler, the agent's real ``Agent.chat`` with the
official SDK and a real Redis), but without starting Python subprocesses, so the tests take seconds.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
import requests

from refsystem.agent import Agent
from refsystem.config import AgentConfig
from refsystem.httpjson import JSONServer
from refsystem.llm_stub import Behaviour, Handler, Stub
from tests.refsystem.conftest import SONNET, STUB_KEY

OTHER_KEY = "sk-stub-other-key-0002"


class StubThread:
    """A running stub: its URL, its shared state, and its behaviour file (written atomically)."""

    def __init__(self, behaviour_file: Path, **defaults: Any) -> None:
        self.behaviour_file = behaviour_file
        self.stub = Stub(Behaviour(valid_keys=frozenset({STUB_KEY, OTHER_KEY}), **defaults), str(behaviour_file))
        self.server = JSONServer("127.0.0.1", 0, Handler, stub=self.stub)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def set(self, **knobs: Any) -> None:
        tmp = self.behaviour_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(knobs))
        tmp.replace(self.behaviour_file)

    def messages(self, content: str, key: str = STUB_KEY, model: str = SONNET, system: Any = None,
                 max_tokens: int = 16) -> requests.Response:
        body: dict[str, Any] = {"model": model, "max_tokens": max_tokens,
                                "messages": [{"role": "user", "content": content}]}
        if system is not None:
            body["system"] = system
        return requests.post(self.url + "/v1/messages", json=body, headers={"x-api-key": key}, timeout=10)

    def billed(self, name: str, **labels: str) -> float:
        return self.stub.meter.registry.get_sample_value(name, labels) or 0.0


@contextmanager
def stub_thread(tmp_path: Path, **defaults: Any) -> Iterator[StubThread]:
    st = StubThread(tmp_path / "behaviour.json", **defaults)
    st.thread.start()
    try:
        yield st
    finally:
        st.server.shutdown()
        st.server.server_close()
        st.thread.join(timeout=5)


def config(redis_url: str, stub_url: str, **kw: Any) -> AgentConfig:
    return AgentConfig(redis_url=redis_url, anthropic_base_url=stub_url, anthropic_api_key=STUB_KEY,
                       default_model=SONNET, request_cpu_ms=0.0, **kw)


@contextmanager
def agent(redis_url: str, stub_url: str, cls: type[Agent] = Agent, **kw: Any) -> Iterator[Agent]:
    """An :class:`Agent` (or a later version of it) as the process builds it (no HTTP server, no background
    checker); its HTTP clients and Redis connection are closed after."""
    a = cls(config(redis_url, stub_url, **kw))
    try:
        yield a
    finally:
        a.upstream.llm.close()
        a.upstream.checker.close()
        a.redis.close()


def chat(a: Agent, user: str, conv: str, message: str = "hello") -> tuple[int, dict[str, Any]]:
    """One chat request through :meth:`Agent.chat`; a Reject becomes its (status, payload)."""
    from refsystem.metrics import Reject

    try:
        return a.chat({"user_id": user, "conversation_id": conv, "message": message}, {})
    except Reject as rej:
        return rej.status, rej.payload


def store_history(client: redis.Redis, conv: str, turns: int, chars: int = 400) -> None:
    """Write ``turns`` user/assistant pairs of ``chars`` characters each into ``conv:<conv>``."""
    for i in range(turns):
        client.rpush(f"conv:{conv}", json.dumps({"role": "user", "content": f"q{i} " + "u" * chars}),
                     json.dumps({"role": "assistant", "content": f"a{i} " + "a" * chars}))
