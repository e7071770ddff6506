"""One drill at a time per target: a ``coordination.k8s.io/v1`` Lease held in the cluster while drills run.

A nightly schedule, a CI gate and a game day may share one cluster; two drills injecting faults into it at
once would judge each other's faults. The lock lives in the cluster itself (not on one machine), so it holds
across hosts, and it is a Lease — the object Kubernetes' own leader election uses — so ``kubectl get lease``
shows who holds it. The holder renews it every third of its duration; a holder that died stops renewing, the
lease expires and the next run takes it over (optimistic concurrency on the resourceVersion decides a race).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from drills.errors import DrillbookError

NAME = "drillbook-drill-lock"
NAMESPACE = "default"  # exists in every cluster; the lock guards the whole cluster, not one namespace
DRILLS = "drillbook.io/drills"  # annotation: what the holder runs


class HasApiClient(Protocol):
    def api_client(self) -> client.ApiClient:
        """The official client configured for the target's cluster."""


class TargetBusy(DrillbookError):
    """Another drillbook run holds the target's lease."""


@dataclass(frozen=True)
class Holder:
    identity: str  # host:pid
    drills: str
    since: datetime
    renewed: datetime
    duration_s: int

    def expired(self, now: datetime) -> bool:
        return (now - self.renewed).total_seconds() > self.duration_s

    def __str__(self) -> str:
        return f"{self.drills or 'a drill'} on {self.identity}, since {self.since:%Y-%m-%d %H:%M:%S} UTC"


def _now() -> datetime:
    return datetime.now(UTC)


def _parts(lease: client.V1Lease) -> tuple[client.V1ObjectMeta, client.V1LeaseSpec]:
    """A Lease's metadata and spec, present (the client types both as optional)."""
    if lease.metadata is None:
        lease.metadata = client.V1ObjectMeta()
    if lease.spec is None:
        lease.spec = client.V1LeaseSpec()
    return lease.metadata, lease.spec


def holder_of(lease: client.V1Lease) -> Holder:
    meta, spec = _parts(lease)
    annotations = meta.annotations or {}
    renewed = spec.renew_time or spec.acquire_time or _now()
    return Holder(identity=spec.holder_identity or "?", drills=annotations.get(DRILLS, ""),
                  since=spec.acquire_time or renewed, renewed=renewed,
                  duration_s=int(spec.lease_duration_seconds or 0))


def _died_here(identity: str) -> bool:
    """Whether the holder ran on this host and its process is gone (a run killed with SIGKILL): its lease need
    not be waited out. A holder on another host can only expire."""
    host, _, pid = identity.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class DrillLock:
    """``with DrillLock(api, "agent-down/oom"):`` — held while the block runs, renewed in the background."""

    def __init__(self, api: client.ApiClient, drills: str, duration_s: int = 30, namespace: str = NAMESPACE,
                 name: str = NAME) -> None:
        self.leases = client.CoordinationV1Api(api)
        self.drills, self.duration_s, self.namespace, self.name = drills, duration_s, namespace, name
        self.identity = f"{socket.gethostname()}:{os.getpid()}"
        self.lost: str | None = None  # why the lease stopped being ours while held (another run took it over)
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    # -- acquire / release ----------------------------------------------------------------------------------
    def acquire(self, wait: bool = False, poll_s: float = 2.0, timeout_s: float | None = None,
                on_wait: Callable[[Holder], object] | None = None) -> None:
        """Take the lease, or raise :class:`TargetBusy` naming the holder (``wait``: until it is free)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        announced = False
        while True:
            holder = self._try_acquire()
            if holder is None:
                break
            if not wait:
                raise TargetBusy(f"the target is busy: {holder} holds lease {self.namespace}/{self.name} "
                                 f"(renewed every {holder.duration_s // 3 or 1}s); run again with --wait to queue")
            if deadline is not None and time.monotonic() > deadline:
                raise TargetBusy(f"still busy after {timeout_s:.0f}s: {holder}")
            if on_wait is not None and not announced:
                on_wait(holder)
                announced = True
            time.sleep(poll_s)
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew_loop, name="drill-lock-renewer", daemon=True)
        self._renewer.start()

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(5)
        try:
            meta, spec = _parts(self.leases.read_namespaced_lease(self.name, self.namespace))
            if spec.holder_identity == self.identity:
                self.leases.delete_namespaced_lease(self.name, self.namespace, body=client.V1DeleteOptions(
                    preconditions=client.V1Preconditions(resource_version=meta.resource_version)))
        except ApiException as exc:
            if exc.status not in (404, 409):
                raise

    def __enter__(self) -> DrillLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # -- internals --------------------------------------------------------------------------------------------
    def _spec(self, now: datetime, acquired: datetime | None = None) -> client.V1LeaseSpec:
        return client.V1LeaseSpec(holder_identity=self.identity, lease_duration_seconds=self.duration_s,
                                  acquire_time=acquired or now, renew_time=now)

    def _try_acquire(self) -> Holder | None:
        """None when the lease is ours now; otherwise who holds it."""
        now = _now()
        body = client.V1Lease(metadata=client.V1ObjectMeta(name=self.name, annotations={DRILLS: self.drills}),
                              spec=self._spec(now))
        try:
            self.leases.create_namespaced_lease(self.namespace, body)
            return None
        except ApiException as exc:
            if exc.status != 409:
                raise
        try:
            lease = self.leases.read_namespaced_lease(self.name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:  # released between our create and read: try again
                return self._try_acquire()
            raise
        holder = holder_of(lease)
        if holder.identity != self.identity and not holder.expired(now) and not _died_here(holder.identity):
            return holder
        # Expired, its holder died on this host, or already ours: take it over, unless someone else does first.
        meta, _ = _parts(lease)
        lease.spec = self._spec(now)
        meta.annotations = {**(meta.annotations or {}), DRILLS: self.drills}
        try:
            self.leases.replace_namespaced_lease(self.name, self.namespace, lease)
            return None
        except ApiException as exc:
            if exc.status == 409:  # the resourceVersion moved: another run renewed or took it
                return holder_of(self.leases.read_namespaced_lease(self.name, self.namespace))
            raise

    def _renew_loop(self) -> None:
        while not self._stop.wait(max(1.0, self.duration_s / 3)):
            try:
                lease = self.leases.read_namespaced_lease(self.name, self.namespace)
                _, spec = _parts(lease)
                if spec.holder_identity != self.identity:
                    self.lost = f"taken over by {holder_of(lease)}"
                    return
                spec.renew_time = _now()
                self.leases.replace_namespaced_lease(self.name, self.namespace, lease)
                self.lost = None
            except (ApiException, OSError) as exc:  # the target may be briefly away; the watchdog judges that
                self.lost = f"renewal failed: {exc}"
