"""API errors as the Kubernetes API server reports them: a ``Status`` object with code, reason and message.

Every failure a handler can meet is raised as :class:`ApiError` and rendered by one middleware, so a client
(the real kubectl, the official Python client) always gets the wire format it parses, never a traceback.
"""

from __future__ import annotations

from typing import Any

REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
           406: "NotAcceptable", 409: "Conflict", 413: "RequestEntityTooLarge", 415: "UnsupportedMediaType",
           422: "Invalid", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable"}


class ApiError(Exception):
    """One failed request: HTTP code, the API's reason word, a message, optional details (kind, name, causes)."""

    def __init__(self, code: int, message: str, reason: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or REASONS.get(code, "Unknown")
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            body["details"] = self.details
        return body


def not_found(resource: str, name: str, group: str = "") -> ApiError:
    shown = f"{resource}.{group}" if group else resource
    return ApiError(404, f'{shown} "{name}" not found', details={"name": name, "group": group, "kind": resource})


def already_exists(resource: str, name: str, group: str = "") -> ApiError:
    shown = f"{resource}.{group}" if group else resource
    return ApiError(409, f'{shown} "{name}" already exists', "AlreadyExists",
                    details={"name": name, "group": group, "kind": resource})


def conflict(resource: str, name: str, group: str = "") -> ApiError:
    shown = f"{resource}.{group}" if group else resource
    return ApiError(409, f'Operation cannot be fulfilled on {shown} "{name}": the object has been modified; '
                         "please apply your changes to the latest version and try again", "Conflict",
                    details={"name": name, "group": group, "kind": resource})


def invalid(kind: str, name: str, causes: list[tuple[str, str, str]], group: str = "") -> ApiError:
    """422 with field causes: (reason, field path, message), e.g. ("FieldValueRequired", "spec.x", "Required value")."""
    shown = f"{kind}.{group}" if group else kind
    text = ", ".join(f"{field}: {message}" for _, field, message in causes)
    return ApiError(422, f'{shown} "{name}" is invalid: {text}', "Invalid",
                    details={"name": name, "group": group, "kind": kind,
                             "causes": [{"reason": r, "field": f, "message": m} for r, f, m in causes]})
