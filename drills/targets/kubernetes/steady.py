"""Wait until every Deployment and StatefulSet is rolled out, driven by watch events (no polling loop).

One watch per kind (all namespaces) runs in its own thread and records each object's latest state; the
caller waits on a condition that every event signals. Done once both watches have delivered the objects
that exist and every one of them is rolled out as ``kubectl rollout status`` judges it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes import watch
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from drills.errors import TargetError
from drills.targets.kubernetes.client import Api, ApiError, Obj
from drills.targets.kubernetes.workloads import is_rolled_out

WATCH_ROUND_S = 5  # each watch asks the server to end within this, so a stopped watch lets go of its connection


class _Steadiness:
    def __init__(self) -> None:
        self.state: dict[str, Obj] = {}
        self.listed: set[str] = set()
        self.error: Exception | None = None
        self.done = threading.Event()
        self.changed = threading.Condition()

    def record(self, kind: str, kind_event: str, obj: Obj) -> None:
        key = f"{kind}/{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"
        with self.changed:
            if kind_event == "DELETED":
                self.state.pop(key, None)
            else:
                self.state[key] = {**obj, "kind": kind}
            self.changed.notify_all()

    def waiting(self) -> dict[str, str]:
        return {k: _progress(o) for k, o in self.state.items() if not is_rolled_out(o)}


def _progress(obj: Obj) -> str:
    s = obj.get("status", {})
    return (f"{s.get('updatedReplicas', 0)} updated, {s.get('readyReplicas', 0)} ready of "
            f"{obj.get('spec', {}).get('replicas', 1)}")


def wait_steady(api: Api, timeout_s: float) -> None:
    """Return once every workload is rolled out; :class:`TargetError` naming the laggards on timeout."""
    deadline = time.monotonic() + timeout_s
    steady = _Steadiness()
    watches = {"Deployment": api.apps.list_deployment_for_all_namespaces,
               "StatefulSet": api.apps.list_stateful_set_for_all_namespaces}
    stops = [watch.Watch() for _ in watches]  # type: ignore[no-untyped-call]
    threads = [threading.Thread(target=_follow, args=(w, kind, lister, api, steady, deadline), daemon=True)
               for w, (kind, lister) in zip(stops, watches.items(), strict=True)]
    for t in threads:
        t.start()
    api.background.extend(threads)  # joined by Api.close(), before its connections are closed
    try:
        with steady.changed:
            while True:
                if steady.error is not None:
                    raise steady.error
                if steady.listed == set(watches) and not steady.waiting():
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TargetError(f"not steady after {timeout_s:.0f}s: {steady.waiting() or 'no watch answered'}")
                steady.changed.wait(left)
    finally:
        steady.done.set()
        for w in stops:
            w.stop()  # type: ignore[no-untyped-call]


def _follow(w: watch.Watch, kind: str, lister: Callable[..., Any], api: Api, steady: _Steadiness,
            deadline: float) -> None:
    """List once (what exists now, with its resourceVersion), then watch from there until stopped."""
    try:
        listed = api.request("GET", "/apis/apps/v1/" + ("deployments" if kind == "Deployment" else "statefulsets"))
        for obj in listed.get("items", []):
            steady.record(kind, "ADDED", obj)
        with steady.changed:
            steady.listed.add(kind)
            steady.changed.notify_all()
        version = listed.get("metadata", {}).get("resourceVersion")
        while time.monotonic() < deadline and not steady.done.is_set():
            events = w.stream(lister, resource_version=version, timeout_seconds=WATCH_ROUND_S,  # type: ignore[no-untyped-call]
                              _request_timeout=WATCH_ROUND_S + 5)
            try:
                for event in events:
                    raw = event["raw_object"]
                    if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                        steady.record(kind, event["type"], raw)
                    version = raw.get("metadata", {}).get("resourceVersion", version)
            except (ReadTimeoutError, ProtocolError):  # a round that outlived its timeout: watch again
                continue
            if steady.done.is_set():
                return
    except ApiException as exc:
        _fail(steady, ApiError.from_exception(exc, f"watch {kind}"))
    except Exception as exc:  # the waiter must hear of it, not hang until its timeout
        _fail(steady, exc)


def _fail(steady: _Steadiness, exc: Exception) -> None:
    with steady.changed:
        steady.error = exc
        steady.changed.notify_all()
