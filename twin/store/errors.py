"""The API errors the store raises, each with its HTTP code, reason and Status dict.
"""
from typing import Any, Dict, Optional

from twin import resources


class ApiError(Exception):
    """An error the API server turns into a Status response."""

    code = 500
    reason = "InternalError"

    def __init__(self, message: str, details: Optional[Dict[str, Any]] = None,
                 code: Optional[int] = None, reason: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code
        if reason is not None:
            self.reason = reason

    def status(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                               "status": "Failure", "message": self.message,
                               "reason": self.reason}
        if self.details:
            out["details"] = self.details
        out["code"] = self.code  # the API server's field order (details before code)
        return out


class NotFound(ApiError):
    code, reason = 404, "NotFound"


class AlreadyExists(ApiError):
    code, reason = 409, "AlreadyExists"


class Conflict(ApiError):
    code, reason = 409, "Conflict"


class Invalid(ApiError):
    code, reason = 422, "Invalid"


class BadRequest(ApiError):
    code, reason = 400, "BadRequest"


class Gone(ApiError):
    code, reason = 410, "Expired"


class Forbidden(ApiError):
    code, reason = 403, "Forbidden"


class TooManyRequests(ApiError):
    code, reason = 429, "TooManyRequests"


class InternalError(ApiError):
    code, reason = 500, "InternalError"


class ServiceUnavailable(ApiError):
    code, reason = 503, "ServiceUnavailable"


def _details(resource: str, name: str) -> Dict[str, Any]:
    rt = resources.RESOURCES.get(resource)
    out = {"name": name}
    if rt is not None and rt.group:
        out["group"] = rt.group
    out["kind"] = resource  # StatusDetails order: name, group, kind
    return out


def _qualified(resource: str) -> str:
    rt = resources.RESOURCES.get(resource)
    return "%s.%s" % (resource, rt.group) if rt is not None and rt.group else resource


def not_found(resource: str, name: str) -> NotFound:
    return NotFound('%s "%s" not found' % (_qualified(resource), name),
                    _details(resource, name))


def conflict(resource: str, name: str) -> Conflict:
    return Conflict('Operation cannot be fulfilled on %s "%s": the object has been modified; '
                    "please apply your changes to the latest version and try again"
                    % (_qualified(resource), name), _details(resource, name))
