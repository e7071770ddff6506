"""Bad configuration reaching the pods: a ConfigMap key removed, or the API key in a Secret revoked.

Story reproduced for both: the bad change is applied to the ConfigMap/Secret (which running pods do not
re-read: they take it as environment at start), then the pods are recycled (node maintenance), so every
replica starts with it. Restarting through a rollout instead would stall behind the old pods (REFERENCE).

- ``config-error``: a required key (``REDIS_URL``) is gone; the agent exits with "Error: Missing required
  environment variable" → CrashLoopBackOff on every replica → AgentDown.
- ``revoked-api-key``: the upstream rejects the key (401 ``authentication_error``); the agents' ``/health``
  fails its credentials check, no replica is ready → AgentDown.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, SecretStr

from drills.registry import Evidence, FaultPlugin, Undo
from drills.targets.base import Target
from faults.common import all_pods, describe, recycle_pods, wait_for


class ConfigErrorParams(BaseModel):
    namespace: str
    configmap: str = Field(description="the ConfigMap the pods take their environment from")
    remove: list[str] = Field(min_length=1, description="keys the bad edit drops (each one the app requires)")
    selector: dict[str, str] = Field(min_length=1, description="the pods that crash without them")
    logged: str = Field(min_length=1, description="what the app logs as it exits without them")


def config_undo(target: Target, p: ConfigErrorParams) -> Undo:
    current = target.get_config(p.namespace, p.configmap)
    return {"namespace": p.namespace, "configmap": p.configmap, "data": {k: current.get(k) for k in p.remove},
            "selector": p.selector}


def config_inject(target: Target, p: ConfigErrorParams) -> None:
    target.set_config(p.namespace, p.configmap, {k: None for k in p.remove})
    recycle_pods(target, p.namespace, p.selector)


def _logged(target: Target, namespace: str, pod: str, text: str) -> bool:
    return text in target.logs(namespace, pod, previous=True) or text in target.logs(namespace, pod)


def config_confirm(target: Target, p: ConfigErrorParams, since: float, timeout_s: float) -> Evidence:
    message = p.logged
    pods = wait_for(lambda: all_pods(target, p.namespace, p.selector, since,
                                     lambda pod: not pod.ready and pod.restarts >= 1 and pod.last_reason == "Error"
                                     and _logged(target, p.namespace, pod.name, message)),
                    timeout_s, f"every pod exiting with {message!r} and restarting (CrashLoopBackOff)")
    return {"pods": describe(pods), "removed": p.remove, "logged": message}


def config_revert(target: Target, record: dict[str, Any]) -> None:
    """Put the keys back and recycle the pods: a pod reads its environment only when it starts."""
    target.set_config(record["namespace"], record["configmap"], record["data"])
    recycle_pods(target, record["namespace"], record["selector"])


class RevokedKeyParams(BaseModel):
    namespace: str
    secret: str = Field(description="the Secret holding the upstream's API key")
    key: str = Field(description="the key in it")
    revoked_value: SecretStr = Field(description="a key the upstream rejects (masked in every report)")
    selector: dict[str, str] = Field(min_length=1, description="the pods that use the key")
    logged: str = Field(min_length=1, description="what the app logs when the upstream rejects the key")


def key_undo(target: Target, p: RevokedKeyParams) -> Undo:
    # The journal (mode 0600) must hold the key to put it back after a crash, as it holds the whole Secret
    # in the target snapshot; it never reaches results or reports.
    current = target.get_secret(p.namespace, p.secret)
    return {"namespace": p.namespace, "secret": p.secret, "key": p.key, "value": current.get(p.key),
            "selector": p.selector}


def key_inject(target: Target, p: RevokedKeyParams) -> None:
    target.set_secret(p.namespace, p.secret, {p.key: p.revoked_value.get_secret_value()})
    recycle_pods(target, p.namespace, p.selector)


def key_confirm(target: Target, p: RevokedKeyParams, since: float, timeout_s: float) -> Evidence:
    message = p.logged
    pods = wait_for(lambda: all_pods(target, p.namespace, p.selector, since,
                                     lambda pod: pod.phase == "Running" and not pod.ready
                                     and _logged(target, p.namespace, pod.name, message)),
                    timeout_s, f"every new pod running, not ready, logging {message!r}")
    return {"pods": describe(pods), "secret": f"{p.namespace}/{p.secret}:{p.key}", "logged": message}


def key_revert(target: Target, record: dict[str, Any]) -> None:
    """Put the key back and recycle the pods: running pods keep the revoked key until they restart."""
    if record.get("value") is not None:
        target.set_secret(record["namespace"], record["secret"], {record["key"]: record["value"]})
    recycle_pods(target, record["namespace"], record["selector"])


CONFIG_ERROR = FaultPlugin(kind="config-error", summary="remove a required key from the pods' ConfigMap, "
                           "recycle the pods", params=ConfigErrorParams, undo=config_undo, inject=config_inject,
                           confirm=config_confirm, revert=config_revert)
REVOKED_API_KEY = FaultPlugin(kind="revoked-api-key", summary="rotate the pods' API key to one the upstream "
                              "rejects, recycle the pods", params=RevokedKeyParams, undo=key_undo,
                              inject=key_inject, confirm=key_confirm, revert=key_revert)
