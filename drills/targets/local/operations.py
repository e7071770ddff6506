"""The two writes the embedded API server makes on the object store for a subresource or a delete.

``scale`` is the ``/scale`` subresource; a pod deletion (``DELETE`` of a pod, or an allowed eviction) is a
request the controller consumes, since pods live in the controller, not in the store. Every other change
arrives as an ordinary object write through the API server.
"""

from __future__ import annotations

from drills.targets.local.store import Obj, ObjectStore


def scale(store: ObjectStore, kind: str, namespace: str, name: str, replicas: int) -> None:
    store.require(kind, namespace, name)
    store.patch(kind, namespace, name, {"spec": {"replicas": replicas}}, how="merge")


def request_pod_deletion(store: ObjectStore, namespace: str, name: str, grace_s: int | None = None) -> None:
    """What ``delete pod`` and an allowed eviction ask of the API: the controller stops the pod (``grace_s`` 0:
    at once, even on a lost node; None: the pod's terminationGracePeriodSeconds)."""
    request: Obj = {"apiVersion": "drillbook/v1", "kind": "PodDeletion",
                    "metadata": {"name": name, "namespace": namespace}}
    if grace_s is not None:
        request["spec"] = {"gracePeriodSeconds": grace_s}
    store.apply(request)
