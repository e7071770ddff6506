"""Reaching Services and pods from outside the cluster: through the API server's proxy, as a kubeconfig allows.

Pod IPs are not reachable from where drillbook runs on a real cluster (kind, a user's), and the API server is:
its ``services/NAME:PORT/proxy`` and ``pods/NAME:PORT/proxy`` subresources forward a request to a ready endpoint
or to the pod. The kubeconfig is read by the official client's loader (bearer token, client certificate, CA data
written to a file it keeps), so any kubeconfig kubectl accepts works here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests
from kubernetes import client, config

if TYPE_CHECKING:
    from requests.sessions import _Settings


@dataclass(frozen=True)
class ApiAccess:
    """Where the API server is and how to authenticate to it."""

    server: str
    headers: dict[str, str]
    verify: str | bool
    cert: tuple[str, str] | None

    @classmethod
    def from_kubeconfig(cls, path: Path, context: str | None = None) -> ApiAccess:
        cfg = client.Configuration()
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(path), context=context, client_configuration=cfg,
            persist_config=False)
        token = cfg.api_key.get("authorization") or cfg.api_key.get("BearerToken")
        headers = {"Authorization": token} if token else {}
        verify: str | bool = (cfg.ssl_ca_cert or True) if cfg.verify_ssl else False
        cert = (cfg.cert_file, cfg.key_file) if cfg.cert_file and cfg.key_file else None
        return cls(str(cfg.host).rstrip("/"), headers, verify, cert)

    def session(self) -> requests.Session:
        """A new session (one per user: PrometheusConnect mounts its retrying adapter on the one it is given)."""
        session = _CaSession()
        session.headers.update(self.headers)
        session.verify = self.verify
        session.cert = self.cert
        return session

    def service_url(self, namespace: str, service: str, port: int | str) -> str:
        return f"{self.server}/api/v1/namespaces/{quote(namespace)}/services/{quote(service)}:{port}/proxy"

    def pod_url(self, namespace: str, pod: str, port: int | str) -> str:
        return f"{self.server}/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}:{port}/proxy"


class _CaSession(requests.Session):
    """A session whose ``verify`` (the cluster's CA) is not replaced by ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``
    from the environment, as requests otherwise does for a request that passes no ``verify`` of its own."""

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> _Settings:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        settings["verify"] = self.verify if verify is None else verify
        return settings
