"""The API server's streaming endpoints: ``pods/exec`` over WebSocket and ``pods/log`` as plain text.

Independent of the rest of the server, which decides what a pod is and hands over two callbacks: ``start``
(run a command "in" a container) and ``open_log`` (the log file of a container). What is here is only the
wire protocol that the real kubectl (1.30+) and the official ``kubernetes`` client expect:

* exec: the channel protocol of the kubelet's streaming server over WebSocket, subprotocol
  ``v5.channel.k8s.io`` (what kubectl asks for) or ``v4.channel.k8s.io`` (the official Python client offers
  both). Each binary frame starts with its channel: 0 stdin, 1 stdout, 2 stderr, 3 the outcome as a meta/v1
  Status (exit code in its causes), 4 terminal resize, and in v5 only 255 "close channel N" (kubectl's stdin
  EOF). No SPDY: kubectl falls back to it only when the WebSocket upgrade fails, and then gets a 400 Status.
* logs: ``text/plain`` with the kubelet's options: container, previous, tailLines, sinceSeconds/sinceTime,
  timestamps, limitBytes and follow (until the client goes away or the container stops).

Errors the callbacks raise::

    drills.errors.TargetError
    ├── StatusError  the request is refused: a meta/v1 Status with its HTTP code, before anything streams
    └── ExecError    the command could not be started: an InternalError Status on the error channel,
                     which is how a real runtime (containerd) reports it after the upgrade
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import re
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Literal

from aiohttp import WSMsgType, web
from multidict import MultiMapping

from drills.errors import TargetError

__all__ = ["ExecError", "ExecRequest", "LogRequest", "LogSource", "StatusError", "exec_websocket",
           "logs_response"]

V5, V4 = "v5.channel.k8s.io", "v4.channel.k8s.io"
STDIN, STDOUT, STDERR, ERROR, CLOSE = 0, 1, 2, 3, 255
CHUNK = 32 * 1024  # the kubelet copies streams through 32 KiB buffers too
# ``logs -f`` re-checks the file and the container this often: the runtime has no event for "container
# stopped" and the kubelet, too, re-checks the container's state on a timer while it follows a log.
FOLLOW_POLL = 0.1
UPGRADE_REQUIRED = (f"Upgrade request required: this API server serves exec over WebSocket only "
                    f"({V5}, {V4}; kubectl 1.30 or newer), not SPDY")


class StatusError(TargetError):
    """A refused request, answered as a meta/v1 Status with this HTTP code; kubectl prints
    ``Error from server (<reason>): <message>``."""

    def __init__(self, code: int, reason: str, message: str,
                 details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    @classmethod
    def bad_request(cls, message: str) -> StatusError:
        return cls(400, "BadRequest", message)

    @classmethod
    def not_found(cls, resource: str, name: str) -> StatusError:
        """``pods "x" not found``, the details naming the resource as the real server does."""
        return cls(404, "NotFound", f'{resource} "{name}" not found', {"name": name, "kind": resource})

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": self.message, "reason": self.reason}
        if self.details:
            body["details"] = dict(self.details)
        body["code"] = self.code
        return body

    def response(self) -> web.Response:
        return web.json_response(self.status(), status=self.code)


class ExecError(TargetError):
    """The command could not be started in the container; the message says why (for instance containerd's
    ``failed to exec in container: ... executable file not found in $PATH: unknown``)."""


def _flag(query: MultiMapping[str], name: str) -> bool:
    """The API server's reading of a boolean query parameter: absent, ``0`` or ``false`` (any case) is false,
    anything else (``true``, ``True``, ``1``, even empty) is true."""
    values = query.getall(name, [])
    return bool(values) and values[0] != "0" and values[0].lower() != "false"


def _number(query: MultiMapping[str], name: str, minimum: int) -> int | None:
    value = query.get(name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise StatusError.bad_request(f'strconv.ParseInt: parsing "{value}": invalid syntax') from None
    if number < minimum:
        bound = "greater than or equal to 0" if minimum == 0 else "greater than 0"
        raise StatusError.bad_request(f"{name}: Invalid value: {number}: must be {bound}")
    return number


@dataclass(frozen=True)
class ExecRequest:
    """A ``pods/exec`` query: ``command`` (repeated), ``container``, and which streams the client attaches."""

    command: tuple[str, ...]
    container: str = ""
    stdin: bool = False
    stdout: bool = False
    stderr: bool = False
    tty: bool = False

    @classmethod
    def from_query(cls, query: MultiMapping[str]) -> ExecRequest:
        tty = _flag(query, "tty")
        request = cls(command=tuple(query.getall("command", [])), container=query.get("container", ""),
                      stdin=_flag(query, "stdin"), stdout=_flag(query, "stdout"),
                      # as the kubelet: a terminal merges stderr into stdout, a stderr request is dropped
                      stderr=_flag(query, "stderr") and not tty, tty=tty)
        if not (request.stdin or request.stdout or request.stderr):
            raise StatusError.bad_request("you must specify at least 1 of stdin, stdout, stderr")
        if not request.command:
            raise StatusError.bad_request("you must specify at least one command for the container")
        return request


@dataclass(frozen=True)
class LogRequest:
    """A ``pods/log`` query (the kubelet's PodLogOptions)."""

    container: str = ""
    previous: bool = False
    follow: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    since_seconds: int | None = None
    since_time: datetime | None = None
    limit_bytes: int | None = None

    @classmethod
    def from_query(cls, query: MultiMapping[str]) -> LogRequest:
        since_seconds = _number(query, "sinceSeconds", 1)
        since_time = None
        if "sinceTime" in query:
            text = query["sinceTime"]
            try:
                since_time = datetime.fromisoformat(text)
            except ValueError:
                since_time = None
            if since_time is None or since_time.tzinfo is None:  # RFC 3339 always says its offset
                raise StatusError.bad_request(f'parsing time "{text}" as RFC3339: invalid')
            if since_seconds is not None:
                raise StatusError.bad_request("at most one of `sinceTime` or `sinceSeconds` may be specified")
        return cls(container=query.get("container", ""), previous=_flag(query, "previous"),
                   follow=_flag(query, "follow"), timestamps=_flag(query, "timestamps"),
                   tail_lines=_number(query, "tailLines", 0), since_seconds=since_seconds,
                   since_time=since_time, limit_bytes=_number(query, "limitBytes", 1))

    def cutoff(self, now: float) -> float | None:
        """Epoch seconds before which lines are left out, if the request says so."""
        if self.since_seconds is not None:
            return now - self.since_seconds
        return self.since_time.timestamp() if self.since_time is not None else None


def _stopped() -> bool:
    return False


@dataclass(frozen=True)
class LogSource:
    """Where a container's log is: ``running`` says whether ``follow`` should wait for more. ``format`` is
    ``plain`` (the process's output as is: no per-line times, so ``timestamps`` adds nothing and ``since``
    can only tell from the file's modification time that nothing was written since) or ``cri`` (the
    kubelet's own ``<RFC3339Nano> <stream> <P|F> <text>`` lines, with which both work as on a real node)."""

    path: Path
    running: Callable[[], bool] = _stopped
    format: Literal["plain", "cri"] = "plain"


StartExec = Callable[[ExecRequest], Awaitable[asyncio.subprocess.Process]]
OpenLog = Callable[[LogRequest], "LogSource | Path | Awaitable[LogSource | Path]"]


# -- exec ------------------------------------------------------------------------------------------------
async def exec_websocket(request: web.Request, start: StartExec) -> web.StreamResponse:
    """Serve ``pods/exec``: upgrade to WebSocket, relay the process's streams, end with its exit Status.

    ``start`` runs the command (it may raise :class:`StatusError` to refuse before the upgrade, or
    :class:`ExecError`); the process is killed if the client goes away first."""
    try:
        exec_request = ExecRequest.from_query(request.query)
        protocol = _negotiate(request)
        process: asyncio.subprocess.Process | None = await start(exec_request)
        failure = None
    except StatusError as err:
        return err.response()
    except ExecError as err:
        process, failure = None, err
    ws = web.WebSocketResponse(protocols=(protocol,))
    try:
        await ws.prepare(request)
        # as the kubelet: an empty frame on the lowest channel the client reads says the streams are up
        first = STDOUT if exec_request.stdout else STDERR if exec_request.stderr else ERROR
        await ws.send_bytes(bytes([first]))
        if process is None:
            await _send_status(ws, _internal_error(str(failure)))
        else:
            await _relay(ws, process, exec_request, protocol)
    except ConnectionError:  # the client went away mid-frame
        pass
    finally:
        if process is not None:
            await _reap(process)
        if ws.prepared:
            await ws.close()
    return ws


def _negotiate(request: web.Request) -> str:
    if request.headers.get("Upgrade", "").strip().lower() != "websocket":
        raise StatusError.bad_request(UPGRADE_REQUIRED)
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    for protocol in offered:
        if protocol in (V5, V4):
            return protocol
    raise StatusError.bad_request(f"unsupported WebSocket subprotocol(s) {offered}: "
                                  f"this server speaks {V5}, {V4}")


async def _relay(ws: web.WebSocketResponse, process: asyncio.subprocess.Process, exec_request: ExecRequest,
                 protocol: str) -> None:
    """Stream until the process has exited and its output is drained, then send its exit Status; or until
    the client has gone, then kill it."""
    outputs = ((process.stdout, STDOUT), (process.stderr, STDERR))
    pumps = [asyncio.create_task(_pump(stream, channel, ws))
             for stream, channel in outputs if stream is not None]
    reader = asyncio.create_task(_read_client(ws, process, protocol))
    finished = asyncio.create_task(_finish(process, pumps))
    try:
        await asyncio.wait((reader, finished), return_when=asyncio.FIRST_COMPLETED)
        if finished.done():
            await _send_status(ws, _exit_status(exec_request.command, finished.result()))
    finally:
        # the reader ends when ws.close() feeds it the closing message; the rest are cancelled if pending
        for task in (*pumps, finished):
            task.cancel()
        await asyncio.gather(*pumps, finished, return_exceptions=True)
        await _reap(process)
        if not reader.done():
            await ws.close()
        await asyncio.gather(reader, return_exceptions=True)


async def _send_status(ws: web.WebSocketResponse, status: dict[str, Any]) -> None:
    await ws.send_bytes(bytes([ERROR]) + json.dumps(status, separators=(",", ":")).encode())


async def _pump(stream: asyncio.StreamReader, channel: int, ws: web.WebSocketResponse) -> None:
    prefix = bytes([channel])
    with contextlib.suppress(ConnectionError):
        while chunk := await stream.read(CHUNK):
            await ws.send_bytes(prefix + chunk)


async def _finish(process: asyncio.subprocess.Process, pumps: list[asyncio.Task[None]]) -> int:
    await asyncio.gather(*pumps)
    return await process.wait()


async def _read_client(ws: web.WebSocketResponse, process: asyncio.subprocess.Process, protocol: str) -> None:
    """Stdin frames to the process; v5's close of channel 0 closes its stdin. Text frames count as binary,
    as in the real server (the Python client sends ``str`` stdin as text). Resize frames are dropped: the
    process has no terminal to resize."""
    stdin = process.stdin
    async for message in ws:
        if message.type not in (WSMsgType.BINARY, WSMsgType.TEXT) or not message.data:
            continue
        data = message.data.encode() if isinstance(message.data, str) else message.data
        channel, payload = data[0], data[1:]
        if stdin is None:
            continue
        if channel == STDIN and payload:
            try:
                stdin.write(payload)
                await stdin.drain()
            except ConnectionError:  # the process closed its stdin or exited
                stdin = None
        elif channel == CLOSE and protocol == V5 and payload[:1] == bytes([STDIN]):
            stdin.close()
            stdin = None


async def _reap(process: asyncio.subprocess.Process) -> None:
    """Kill the process if it still runs (its whole group when it leads one) and collect it.

    ``wait()`` also waits for the output pipes to close, and asyncio stops reading a pipe whose buffer is
    full: what the process wrote last is read and dropped first, or a chatty process (``yes``) is never
    collected."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            if os.getpgid(process.pid) == process.pid:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
    if process.stdin is not None:
        process.stdin.close()
    for stream in (process.stdout, process.stderr):
        while stream is not None and await stream.read(CHUNK):
            pass
    await process.wait()


def _exit_status(command: tuple[str, ...], code: int) -> dict[str, Any]:
    """The Status the kubelet sends on the error channel: Success, or NonZeroExitCode worded as containerd
    words it (a signal's death reads 128 + signal, as the runtime reports it)."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    code = 128 - code if code < 0 else code
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command "
                       f"[{' '.join(command)}], exit code {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def _internal_error(message: str) -> dict[str, Any]:
    cause = f"error executing command in container: {message}"
    return {"metadata": {}, "status": "Failure", "message": f"Internal error occurred: {cause}",
            "reason": "InternalError", "details": {"causes": [{"message": cause}]}, "code": 500}


# -- logs ------------------------------------------------------------------------------------------------
async def logs_response(request: web.Request, open_log: OpenLog) -> web.StreamResponse:
    """Serve ``pods/log``. ``open_log`` maps the request to the container's log (a :class:`LogSource`, or a
    bare path for a container that has stopped) or raises :class:`StatusError` (``previous terminated
    container "x" in pod "y" not found``: 400, a missing pod: 404)."""
    try:
        log_request = LogRequest.from_query(request.query)
        found = open_log(log_request)
        if inspect.isawaitable(found):
            found = await found
    except StatusError as err:
        return err.response()
    source = found if isinstance(found, LogSource) else LogSource(Path(found))
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):  # the client went away
        await _stream_log(request, response, log_request, source)
        await response.write_eof()
    return response


async def _stream_log(request: web.Request, response: web.StreamResponse, log_request: LogRequest,
                      source: LogSource) -> None:
    handle = await _open_log(request, source, log_request.follow)
    if handle is None:
        return
    with handle:
        inode = os.fstat(handle.fileno()).st_ino
        cutoff = log_request.cutoff(time.time())
        if log_request.tail_lines is not None:
            handle.seek(await asyncio.to_thread(_tail_offset, handle, log_request.tail_lines))
        if source.format == "plain" and cutoff is not None and os.fstat(handle.fileno()).st_mtime < cutoff:
            handle.seek(0, os.SEEK_END)  # nothing was written since the cutoff
        left, pending, ended = log_request.limit_bytes, b"", False
        while True:
            chunk = await asyncio.to_thread(handle.read, CHUNK)
            if chunk:
                if source.format == "cri":
                    lines = (pending + chunk).split(b"\n")
                    pending, chunk = lines.pop(), b"".join(_cri_line(line, log_request.timestamps, cutoff)
                                                           for line in lines)
                if left is not None:
                    chunk, left = chunk[:left], left - len(chunk[:left])
                await response.write(chunk)
                if left == 0:
                    return
                continue
            if not log_request.follow or ended or _client_gone(request):
                break
            # one more read after the container stopped drains what it wrote last
            ended = not source.running() or _replaced(source.path, inode)
            if not ended:
                await asyncio.sleep(FOLLOW_POLL)
        if pending:  # a last line without its newline yet
            await response.write(_cri_line(pending, log_request.timestamps, cutoff)[:left])


async def _open_log(request: web.Request, source: LogSource, follow: bool) -> IO[bytes] | None:
    """The log file, or None when there is none; when following a running container, wait for it."""
    while True:
        try:
            return await asyncio.to_thread(source.path.open, "rb")  # the caller's ``with`` closes it
        except FileNotFoundError:
            if not follow or not source.running() or _client_gone(request):
                return None
        await asyncio.sleep(FOLLOW_POLL)


def _client_gone(request: web.Request) -> bool:
    return request.transport is None or request.transport.is_closing()


def _replaced(path: Path, inode: int) -> bool:
    """The followed file is no longer the container's log: the container restarted (its old log moved)."""
    try:
        return path.stat().st_ino != inode
    except FileNotFoundError:
        return True


def _tail_offset(handle: IO[bytes], lines: int) -> int:
    """Where the last ``lines`` lines start, read backwards from the end (a last line without its newline
    counts), as the kubelet finds a tail without reading the whole file."""
    size = pos = handle.seek(0, os.SEEK_END)
    if lines == 0:
        return size
    count = 0
    while pos > 0:
        step = min(CHUNK, pos)
        pos -= step
        handle.seek(pos)
        block = handle.read(step)
        index = len(block)
        while (index := block.rfind(b"\n", 0, index)) >= 0:
            if pos + index == size - 1:  # the newline that ends the last line
                continue
            count += 1
            if count == lines:
                return pos + index + 1
    return 0


_CRI = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d) "
                  rb"(?:stdout|stderr) ([PF]) ")


def _cri_line(line: bytes, timestamps: bool, cutoff: float | None) -> bytes:
    """One line of a CRI log as the kubelet serves it: the text (a ``P`` partial line without newline),
    after its time in RFC3339 with nine fraction digits when asked; b"" if before ``cutoff``."""
    match = _CRI.match(line)
    if match is None:  # not CRI: pass it through rather than lose it
        return line + b"\n"
    seconds, fraction, zone, tag = match.groups()
    fraction = (fraction or b"").ljust(9, b"0")
    if cutoff is not None:
        when = datetime.fromisoformat((seconds + zone).decode()).timestamp()
        if when + int(fraction) / 1e9 < cutoff:
            return b""
    text = line[match.end():] + (b"\n" if tag == b"F" else b"")
    return seconds + b"." + fraction + zone + b" " + text if timestamps else text
