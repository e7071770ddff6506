"""The Kubernetes v1.37 API schema, read from the definitions the ``kubernetes-validate`` package ships.

One source for everything schema-driven in the embedded API server: the ``/openapi/v3`` documents kubectl
downloads (``openapi.py``) and the patch semantics the server applies (``patches.py``: strategic-merge keys
and strategies, server-side-apply list types). The package carries the API's definitions as JSON Schema
(``kubernetes-json-schema/v1.37.0-local/_definitions.json``, 862 definitions under ``$defs``) with the
API's own ``x-kubernetes-*`` extensions, so no table of merge keys is written by hand here.

Loading parses a 1.8 MB file (measured 40-70 ms, about 3.5 MB of Python objects); it happens once, on first
use, and is cached for the life of the process, so no request after the first pays it. A server may call
``definitions()`` at start-up to take it off the first request.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

PACKAGE = "kubernetes_validate"
DEFINITIONS_FILE = "kubernetes-json-schema/v1.37.0-local/_definitions.json"
REF_PREFIX = "#/$defs/"
GVK_EXTENSION = "x-kubernetes-group-version-kind"

# A JSON Schema node as the package ships it (an untyped JSON object by nature).
RawSchema = Mapping[str, Any]


@functools.cache
def definitions() -> Mapping[str, RawSchema]:
    """All definitions by their API name (``io.k8s.api.apps.v1.Deployment``); loaded once, then cached."""
    text = resources.files(PACKAGE).joinpath(DEFINITIONS_FILE).read_text(encoding="utf-8")
    defs: dict[str, RawSchema] = json.loads(text)["$defs"]
    return defs


@functools.cache
def _kinds() -> Mapping[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, raw in definitions().items():
        for gvk in raw.get(GVK_EXTENSION, ()):
            index[(gvk.get("group", ""), gvk["version"], gvk["kind"])] = name
    return index


def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` -> ``("apps", "v1")``; the core group is ``""`` (``v1`` -> ``("", "v1")``)."""
    group, _, version = api_version.rpartition("/")
    return group, version


def definition_name(api_version: str, kind: str) -> str | None:
    """The definition that carries ``kind`` in ``api_version`` (by its group-version-kind extension)."""
    group, version = split_api_version(api_version)
    return _kinds().get((group, version, kind))


def ref_name(ref: str) -> str:
    """The definition name a ``$ref`` points at."""
    return ref.removeprefix(REF_PREFIX)


def _target(raw: RawSchema) -> RawSchema:
    """Follow a ``$ref`` (the package writes a reference with sibling keywords as a plain ``$ref``)."""
    seen = 0
    while "$ref" in raw and seen < 8:
        raw = definitions()[ref_name(raw["$ref"])]
        seen += 1
    return raw


@dataclass(frozen=True)
class Field:
    """A field's schema as patching needs it.

    ``site`` is the schema where the field is declared (the property: it holds the patch and list
    extensions), ``shape`` the schema its value has (the ``$ref`` target: properties, items, value types).
    """

    site: RawSchema
    shape: RawSchema

    @classmethod
    def of(cls, raw: RawSchema) -> Field:
        return cls(site=raw, shape=_target(raw))

    def field(self, name: str) -> Field | None:
        """The schema of object property ``name``, or of a map's values; ``None`` when unknown."""
        props = self.shape.get("properties")
        if isinstance(props, Mapping) and name in props:
            return Field.of(props[name])
        extra = self.shape.get("additionalProperties")
        if isinstance(extra, Mapping):
            return Field.of(extra)
        return None

    def items(self) -> Field | None:
        """The schema of a list's elements."""
        items = self.shape.get("items")
        return Field.of(items) if isinstance(items, Mapping) else None

    @property
    def patch_merge_key(self) -> str | None:
        key = self.site.get("x-kubernetes-patch-merge-key")
        return key if isinstance(key, str) else None

    @property
    def patch_strategies(self) -> frozenset[str]:
        """``merge``, ``replace`` and/or ``retainKeys`` (the extension is a comma-separated list)."""
        value = self.site.get("x-kubernetes-patch-strategy")
        return frozenset(value.split(",")) if isinstance(value, str) else frozenset()

    @property
    def list_type(self) -> str | None:
        """``atomic``, ``set`` or ``map`` (server-side apply's list semantics)."""
        value = self.site.get("x-kubernetes-list-type", self.shape.get("x-kubernetes-list-type"))
        return value if isinstance(value, str) else None

    @property
    def list_map_keys(self) -> tuple[str, ...]:
        value = self.site.get("x-kubernetes-list-map-keys", self.shape.get("x-kubernetes-list-map-keys"))
        return tuple(value) if isinstance(value, list) else ()

    @property
    def map_type(self) -> str | None:
        """``atomic`` or ``granular`` for maps and structs (server-side apply)."""
        value = self.site.get("x-kubernetes-map-type", self.shape.get("x-kubernetes-map-type"))
        return value if isinstance(value, str) else None


def kind_schema(api_version: str, kind: str) -> Field | None:
    """The schema of a whole object of ``kind``; ``None`` for a kind the API does not define."""
    name = definition_name(api_version, kind)
    return Field.of(definitions()[name]) if name else None
