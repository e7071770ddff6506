"""The embedded cluster's kubeconfig: where its API server listens and the bearer token it accepts.

Written by ``drillbook up`` (mode 0600: the token is the only credential), read by the real kubectl through
``KUBECONFIG`` in runbook steps and by anyone who runs ``KUBECONFIG=$(drillbook kubeconfig) kubectl ...``.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

import yaml

from drills.targets.local.apiserver import certs

CONTEXT = "drillbook-local"
PORT = 6443


def token_path(root: Path) -> Path:
    return root / "apiserver.token"


def kubeconfig_path(root: Path) -> Path:
    return root / "kubeconfig"


def server_url(address: str) -> str:
    return f"https://{address}:{PORT}"


def write(root: Path, address: str) -> Path:
    """Create the token and TLS material (once) and the kubeconfig naming them; readable by their owner only."""
    ca = certs.ensure(root, address)
    tokens = token_path(root)
    if not tokens.exists():
        _write_private(tokens, secrets.token_urlsafe(32))
    token = tokens.read_text().strip()
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": CONTEXT, "preferences": {},
        "clusters": [{"name": CONTEXT, "cluster": {
            "server": server_url(address), "certificate-authority-data": base64.b64encode(ca).decode()}}],
        "users": [{"name": CONTEXT, "user": {"token": token}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": "default"}}],
    }
    path = kubeconfig_path(root)
    _write_private(path, yaml.safe_dump(config, sort_keys=False))
    return path


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
