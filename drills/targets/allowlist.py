"""What a target may act on. A drill injects real faults, so a target refuses anything not allowed.

- Kubernetes: only kubeconfig contexts matching ``kind-*`` (the clusters ``kind create cluster`` makes),
  unless the user allows more patterns explicitly (``--allow-context 'staging-*'``). The context is read
  from the kubeconfig with the official client, so what is checked is what would be used.
- Local sandbox: only its own loopback range ``127.<octet>.0.0/16`` with octet 2..254 (127.0/16 and 127.1/16
  hold the host's own services, which the sandbox's iptables chain and address binds must never touch).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from fnmatch import fnmatchcase
from pathlib import Path

from drills.errors import TargetError

DEFAULT_CONTEXTS = ("kind-*",)
SANDBOX_OCTETS = range(2, 255)


def allowed(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatchcase(name, p) for p in patterns)


def kube_context(kubeconfig: Path | None, context: str | None, allow: Sequence[str] = ()) -> str:
    """The context drills would run against; refused unless it matches ``kind-*`` or a user's pattern."""
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    if kubeconfig is None:  # the client reads $KUBECONFIG once, at import: read it now
        first = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
        kubeconfig = Path(first) if first else Path.home() / ".kube" / "config"
    try:
        contexts, active = config.list_kube_config_contexts(str(kubeconfig))  # type: ignore[no-untyped-call]
    except (ConfigException, OSError) as exc:
        raise TargetError(f"cannot read kubeconfig {kubeconfig}: {exc}") from exc
    names = [c["name"] for c in contexts]
    chosen = str(context or (active or {}).get("name") or "")
    if chosen not in names:
        raise TargetError(f"no context {chosen!r} in the kubeconfig; contexts: {', '.join(names) or 'none'}")
    patterns = [*DEFAULT_CONTEXTS, *allow]
    if not allowed(chosen, patterns):
        raise TargetError(f"refusing context {chosen!r}: drills inject real faults, and only contexts matching "
                          f"{', '.join(patterns)} are allowed; add --allow-context {chosen!r} if it is meant")
    return chosen


def sandbox_octet(octet: int) -> int:
    if octet not in SANDBOX_OCTETS:
        raise TargetError(f"refusing sandbox octet {octet}: 127.{octet}.0.0/16 is outside the sandbox's "
                          f"allowed ranges (127.2.0.0 .. 127.254.0.0); 127.0/16 and 127.1/16 are the host's")
    return octet
