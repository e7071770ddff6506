"""Fixtures that run the reference system for real: redis-server, the LLM stub and the agent as processes.

No mocks: every test talks HTTP to real subprocesses on free loopback ports and reads real Redis. Every
process started here is registered with a :class:`Spawner`, whose teardown kills it even when the test
failed, so a broken test never leaves a server behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
import redis
import requests
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
STUB_KEY = "sk-stub-valid-key-0001"
SONNET = "claude-3-5-sonnet-20241022"


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    """A started subprocess with its combined stdout/stderr log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_fh: IO[bytes]
    url: str = ""
    port: int = 0

    def log(self) -> str:
        if not self.log_fh.closed:
            self.log_fh.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> int:
        """Signal, wait, escalate to SIGKILL; always reaps the child and closes the log file."""
        if self.popen.poll() is None:
            try:
                self.popen.send_signal(sig)
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=timeout)
        if not self.log_fh.closed:
            self.log_fh.close()
        return int(self.popen.returncode)


@dataclass
class Spawner:
    """Starts processes under ``workdir`` and kills every one of them in :meth:`close`."""

    workdir: Path
    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Proc:
        log_path = self.workdir / f"{name}-{len(self.procs)}.log"
        fh = open(log_path, "wb")  # noqa: SIM115 - closed by Proc.stop
        full_env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("ANTHROPIC_", "STUB_", "REDIS_"))}
        full_env.update({"PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}, **(env or {}))
        popen = subprocess.Popen(argv, cwd=REPO, env=full_env, stdout=fh, stderr=subprocess.STDOUT)
        proc = Proc(name, popen, log_path, fh)
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.stop(signal.SIGKILL if proc.name == "redis" else signal.SIGTERM, timeout=3.0)

    # ---------------------------------------------------------------------------------- components
    def redis(self) -> Proc:
        port = free_port()
        proc = self.start("redis", [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                    "--appendonly", "no", "--dir", str(self.workdir)])
        proc.port, proc.url = port, f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while True:
            client = redis.Redis(port=port, socket_timeout=0.5, socket_connect_timeout=0.5)
            try:
                if client.ping():
                    return proc
            except redis.RedisError:
                if not proc.alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start:\n{proc.log()}") from None
                time.sleep(0.05)
            finally:
                client.close()

    def stub(self, behaviour_file: Path) -> Proc:
        port = free_port()
        proc = self.start("llm_stub", [sys.executable, "-m", "refsystem.llm_stub"], {
            "STUB_HOST": "127.0.0.1", "STUB_PORT": str(port), "STUB_VALID_KEYS": f"other-key,{STUB_KEY}",
            "STUB_BEHAVIOUR_FILE": str(behaviour_file), "POD_NAME": "llm-stub-test"})
        proc.port, proc.url = port, f"http://127.0.0.1:{port}"
        wait_http(proc, "/health")
        return proc

    def agent(self, redis_url: str, stub_url: str, **env: str) -> Proc:
        port = free_port()
        full = {"REDIS_URL": redis_url, "ANTHROPIC_BASE_URL": stub_url, "ANTHROPIC_API_KEY": STUB_KEY,
                "DEFAULT_MODEL": SONNET, "POD_IP": "127.0.0.1", "POD_NAME": "agent-test", "PORT": str(port),
                "UPSTREAM_CHECK_INTERVAL": "0.5", **env}
        proc = self.start("agent", [sys.executable, "-m", "refsystem.agent"], full)
        proc.port, proc.url = port, f"http://127.0.0.1:{port}"
        wait_http(proc, "/metrics")
        return proc


def wait_http(proc: Proc, path: str, timeout: float = 60.0) -> None:
    """Block until ``proc`` answers ``path`` over HTTP (any status), or fail with its log. Generous: at load 10
    on two cores a starting agent took over 15 s to answer, each try cut at 1 s (a start-up wait, not a check)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited early (rc={proc.popen.returncode}):\n{proc.log()}")
        try:
            requests.get(proc.url + path, timeout=5).close()
            return
        except requests.RequestException:
            time.sleep(0.05)
    raise RuntimeError(f"{proc.name} not answering {path} after {timeout}s:\n{proc.log()}")


def scrape(url: str) -> list[tuple[str, dict[str, str], float]]:
    """All samples of a Prometheus text exposition at ``url``."""
    resp = requests.get(url, timeout=3)
    resp.raise_for_status()
    return [(s.name, dict(s.labels), s.value) for fam in text_string_to_metric_families(resp.text)
            for s in fam.samples]


def metric(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    """Sum of the samples called ``name`` whose labels include ``labels`` (0 when absent)."""
    return sum(v for n, lab, v in samples if n == name and all(lab.get(k) == x for k, x in labels.items()))


def chat(agent: Proc, user: str, conv: str, message: str = "hello", **extra: Any) -> requests.Response:
    """POST one chat request to the agent."""
    body = {"user_id": user, "conversation_id": conv, "message": message, **extra}
    return requests.post(agent.url + "/v1/chat", json=body, timeout=30)


@dataclass
class Stack:
    """One shared redis + stub + agent, plus a Redis client and the stub's behaviour file."""

    redis: Proc
    stub: Proc
    agent: Proc
    client: redis.Redis
    behaviour_file: Path

    def set_behaviour(self, knobs: dict[str, Any]) -> None:
        tmp = self.behaviour_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(knobs))
        tmp.replace(self.behaviour_file)  # atomic: the stub never reads half a file

    def reset_behaviour(self) -> None:
        self.behaviour_file.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("refsystem")
    spawner = Spawner(workdir)
    client: redis.Redis | None = None
    try:
        rds = spawner.redis()
        behaviour = workdir / "behaviour.json"
        stub = spawner.stub(behaviour)
        agent = spawner.agent(rds.url, stub.url)
        client = redis.Redis(port=rds.port, socket_timeout=2, decode_responses=True)
        yield Stack(rds, stub, agent, client, behaviour)
    finally:
        if client is not None:
            client.close()
        spawner.close()


@pytest.fixture
def spawner(tmp_path: Path) -> Iterator[Spawner]:
    """Per-test process starter; everything it started is killed at teardown."""
    sp = Spawner(tmp_path)
    try:
        yield sp
    finally:
        sp.close()


@pytest.fixture
def behaviour(stack: Stack) -> Iterator[Callable[[dict[str, Any]], None]]:
    """Set the shared stub's behaviour for one test; restored to defaults afterwards."""
    try:
        yield stack.set_behaviour
    finally:
        stack.reset_behaviour()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server of its own for one test module (flushed by the tests that need it empty)."""
    spawner = Spawner(tmp_path_factory.mktemp("redis"))
    try:
        yield spawner.redis().url
    finally:
        spawner.close()
