"""Turn a pod's container spec into what the runtime starts: argv, environment, files, limits.

This is the kubelet's "generate container config" step, kept free of I/O except writing the pod's
ConfigMap/Secret volumes, so its rules (envFrom, secretKeyRef, ``$(VAR)`` expansion, fieldRef, missing keys →
``CreateContainerConfigError``) can be tested on their own.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drills.targets.local.quantity import cpu_millicores, memory_bytes
from drills.targets.local.volumes import ensure_claim

Obj = dict[str, Any]


class ContainerConfigError(Exception):
    """The kubelet's CreateContainerConfigError: a referenced ConfigMap/Secret or key does not exist."""


@dataclass
class Probe:
    kind: str  # "http" | "tcp" | "exec"
    port: int = 0
    path: str = "/"
    command: list[str] = field(default_factory=list)
    period_s: float = 1.0
    timeout_s: float = 1.0


@dataclass
class ContainerConfig:
    name: str
    image: str
    argv: list[str]
    env: dict[str, str]
    memory_limit: int | None
    cpu_millicores: int | None
    readiness: Probe | None
    mounts: dict[str, Path]  # mountPath -> host directory


@dataclass
class PodContext:
    """What the kubelet knows about the pod it starts: identity, address and the objects it may reference."""

    name: str
    namespace: str
    node: str
    ip: str
    pod_dir: Path
    configmaps: dict[str, Obj]
    secrets: dict[str, Obj]
    services: dict[str, str]  # DNS names -> address (the sandbox's cluster DNS)
    base_env: dict[str, str]
    volume_dirs: dict[str, Path] = field(default_factory=dict)  # volume name -> prepared host dir
    claims: dict[str, Obj] = field(default_factory=dict)  # PersistentVolumeClaims of the namespace


def build_container(spec: Obj, ctx: PodContext, entrypoint: list[str]) -> ContainerConfig:
    env = dict(ctx.base_env)
    for source in spec.get("envFrom", []):
        env.update(_env_from(source, ctx))
    for item in spec.get("env", []):
        value = _env_value(item, ctx, env)
        if value is not None:
            env[item["name"]] = value
    env = {k: _resolve_hosts(v, ctx.services) for k, v in env.items()}
    mounts = {m["mountPath"]: ctx.volume_dirs[m["name"]] for m in spec.get("volumeMounts", [])
              if m["name"] in ctx.volume_dirs}
    argv = [*(spec.get("command") or entrypoint), *spec.get("args", [])]
    argv = [_map_paths(_expand(a, env), mounts) for a in argv]
    env = {k: _map_paths(v, mounts) for k, v in env.items()}
    limits = spec.get("resources", {}).get("limits", {})
    return ContainerConfig(
        name=spec["name"],
        image=spec.get("image", ""),
        argv=argv,
        env=env,
        memory_limit=memory_bytes(limits["memory"]) if "memory" in limits else None,
        cpu_millicores=cpu_millicores(limits["cpu"]) if "cpu" in limits else None,
        readiness=_probe(spec.get("readinessProbe")),
        mounts=mounts,
    )


def prepare_volumes(pod_spec: Obj, ctx: PodContext, claim_dir: Path) -> dict[str, Path]:
    """Materialise the pod's volumes as host directories (ConfigMap/Secret files written as the kubelet does)."""
    dirs: dict[str, Path] = {}
    for volume in pod_spec.get("volumes", []):
        name = volume["name"]
        target = ctx.pod_dir / "volumes" / name
        if "configMap" in volume:
            data = _lookup(ctx.configmaps, volume["configMap"]["name"], "configmap").get("data", {})
            _write_files(target, {k: v.encode() for k, v in data.items()})
        elif "secret" in volume:
            secret = _lookup(ctx.secrets, volume["secret"]["secretName"], "secret")
            _write_files(target, {k: v for k, v in _secret_data(secret).items()})
        elif "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"]["claimName"]
            target = claim_dir / claim
            request = ctx.claims.get(claim, {}).get("spec", {}).get("resources", {}).get("requests", {})
            ensure_claim(target, request.get("storage"))
        target.mkdir(parents=True, exist_ok=True)
        dirs[name] = target
    return dirs


def pod_memory_limit(pod_spec: Obj) -> str | None:
    for container in pod_spec.get("containers", []):
        limit = container.get("resources", {}).get("limits", {}).get("memory")
        if limit:
            return str(limit)
    return None


# -- helpers ----------------------------------------------------------------------------------------
def _lookup(objects: dict[str, Obj], name: str, what: str, optional: bool = False) -> Obj:
    if name not in objects:
        if optional:
            return {}
        raise ContainerConfigError(f'{what} "{name}" not found')
    return objects[name]


def _secret_data(secret: Obj) -> dict[str, bytes]:
    data = {k: base64.b64decode(v) for k, v in secret.get("data", {}).items()}
    data.update({k: v.encode() for k, v in secret.get("stringData", {}).items()})
    return data


def _env_from(source: Obj, ctx: PodContext) -> dict[str, str]:
    prefix = source.get("prefix", "")
    if "configMapRef" in source:
        ref = source["configMapRef"]
        data = _lookup(ctx.configmaps, ref["name"], "configmap", ref.get("optional", False)).get("data", {})
        return {prefix + k: str(v) for k, v in data.items()}
    ref = source["secretRef"]
    secret = _lookup(ctx.secrets, ref["name"], "secret", ref.get("optional", False))
    return {prefix + k: v.decode() for k, v in _secret_data(secret).items()}


def _env_value(item: Obj, ctx: PodContext, env: dict[str, str]) -> str | None:
    if "value" in item:
        return _expand(str(item["value"]), env)
    source = item.get("valueFrom", {})
    if "fieldRef" in source:
        path = source["fieldRef"]["fieldPath"]
        fields = {"status.podIP": ctx.ip, "metadata.name": ctx.name, "metadata.namespace": ctx.namespace,
                  "spec.nodeName": ctx.node}
        return fields.get(path, "")
    for ref_key, objects, what in (("configMapKeyRef", ctx.configmaps, "configmap"),
                                   ("secretKeyRef", ctx.secrets, "secret")):
        if ref_key in source:
            ref = source[ref_key]
            optional = ref.get("optional", False)
            obj = _lookup(objects, ref["name"], what, optional)
            data = _secret_data(obj) if what == "secret" else {k: v.encode() for k, v in
                                                               obj.get("data", {}).items()}
            if ref["key"] not in data:
                if optional:
                    return None
                raise ContainerConfigError(f'couldn\'t find key {ref["key"]} in {what.title()} '
                                           f'{ctx.namespace}/{ref["name"]}')
            return data[ref["key"]].decode()
    return None


_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def _expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion in command, args and env values.

    Unknown references stay as they are, and ``$$`` escapes: ``$$(X)`` is the literal ``$(X)``.
    """
    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))

    return _VAR.sub(one, text)


def _resolve_hosts(value: str, services: dict[str, str]) -> str:
    """The sandbox's cluster DNS: Service names inside env values become their address."""
    for name in sorted(services, key=len, reverse=True):
        value = re.sub(rf"(?<=//){re.escape(name)}(?=[:/]|$)|^{re.escape(name)}$", services[name], value)
    return value


def _map_paths(value: str, mounts: dict[str, Path]) -> str:
    """Rewrite in-container paths under a volume's mountPath to the host directory backing it."""
    if not mounts:
        return value
    # One pass over all mounts (longest first), so a host directory is never rewritten again.
    alternatives = "|".join(re.escape(m) for m in sorted(mounts, key=len, reverse=True))
    return re.sub(rf"(?<![\w./-])({alternatives})(?=/|$|\s)", lambda m: str(mounts[m.group(1)]), value)


def _probe(spec: Obj | None) -> Probe | None:
    if not spec:
        return None
    period_s, timeout_s = float(spec.get("periodSeconds", 1)), float(spec.get("timeoutSeconds", 1))
    if "httpGet" in spec:
        return Probe("http", port=int(spec["httpGet"]["port"]), path=spec["httpGet"].get("path", "/"),
                     period_s=period_s, timeout_s=timeout_s)
    if "tcpSocket" in spec:
        return Probe("tcp", port=int(spec["tcpSocket"]["port"]), period_s=period_s, timeout_s=timeout_s)
    return Probe("exec", command=list(spec["exec"]["command"]), period_s=period_s, timeout_s=timeout_s)


def _write_files(directory: Path, files: dict[str, bytes]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for key, data in files.items():
        (directory / key).write_bytes(data)
