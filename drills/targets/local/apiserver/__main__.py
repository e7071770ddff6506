"""``python -m drills.targets.local.apiserver ROOT``: serve the embedded cluster's API on its loopback address.

``drillbook up`` starts it next to the controller; it listens on the sandbox's control-plane address (never
beyond loopback) at port 6443 and accepts only the bearer token in the sandbox's kubeconfig.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aiohttp import web

from drills.targets.local.apiserver import certs, kubeconfig, subresources
from drills.targets.local.apiserver.app import make_app
from drills.targets.local.apiserver.cluster import Cluster
from drills.targets.local.config import SandboxConfig


def main(argv: list[str]) -> None:
    root = Path(argv[1])
    config = SandboxConfig.load(root)
    token = kubeconfig.token_path(root).read_text().strip()
    app = make_app(Cluster(root), token, subresources.extensions())
    web.run_app(app, host=config.controller_address, port=kubeconfig.PORT, print=None, access_log=None,
                shutdown_timeout=2, ssl_context=certs.server_context(root))


if __name__ == "__main__":
    main(sys.argv)
