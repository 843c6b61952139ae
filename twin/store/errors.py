"""The API errors the store raises, each with its HTTP code, reason and Status dict.
"""
from typing import Any, Dict, Optional, Type

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


def _status_error(name: str, code: int, reason: str) -> Type[ApiError]:
    """An ApiError subclass the server answers with HTTP `code` and Status `reason`."""
    return type(name, (ApiError,), {"code": code, "reason": reason, "__module__": __name__,
                                    "__doc__": "HTTP %d, reason %s." % (code, reason)})


NotFound = _status_error("NotFound", 404, "NotFound")
AlreadyExists = _status_error("AlreadyExists", 409, "AlreadyExists")
Conflict = _status_error("Conflict", 409, "Conflict")
Invalid = _status_error("Invalid", 422, "Invalid")
BadRequest = _status_error("BadRequest", 400, "BadRequest")
Gone = _status_error("Gone", 410, "Expired")
Forbidden = _status_error("Forbidden", 403, "Forbidden")
TooManyRequests = _status_error("TooManyRequests", 429, "TooManyRequests")
InternalError = _status_error("InternalError", 500, "InternalError")
ServiceUnavailable = _status_error("ServiceUnavailable", 503, "ServiceUnavailable")


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


def not_found(resource: str, name: str) -> ApiError:
    return NotFound('%s "%s" not found' % (_qualified(resource), name),
                    _details(resource, name))


def conflict(resource: str, name: str) -> ApiError:
    return Conflict('Operation cannot be fulfilled on %s "%s": the object has been modified; '
                    "please apply your changes to the latest version and try again"
                    % (_qualified(resource), name), _details(resource, name))
