"""The kind platform: a local Kubernetes cluster in Docker containers, for CI and for real drills.

:class:`~drills.targets.kind.provider.KindProvider` is the entry point the CLI calls
(``KindProvider(cluster=NAME).up()`` / ``.down()``).
"""

from drills.targets.kind.provider import DEFAULT_CLUSTER, KindProvider

__all__ = ["DEFAULT_CLUSTER", "KindProvider"]
