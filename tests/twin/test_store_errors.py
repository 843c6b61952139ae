"""The store's API errors: one ApiError subclass per Status reason, each its own type."""
import pickle

import pytest

from twin.store import errors


@pytest.mark.parametrize("cls,code,reason", [
    (errors.NotFound, 404, "NotFound"), (errors.AlreadyExists, 409, "AlreadyExists"),
    (errors.Conflict, 409, "Conflict"), (errors.Invalid, 422, "Invalid"),
    (errors.BadRequest, 400, "BadRequest"), (errors.Gone, 410, "Expired"),
    (errors.Forbidden, 403, "Forbidden"), (errors.TooManyRequests, 429, "TooManyRequests"),
    (errors.InternalError, 500, "InternalError"),
    (errors.ServiceUnavailable, 503, "ServiceUnavailable"),
])
def test_each_error_answers_with_its_code_and_reason(cls, code, reason):
    exc = cls("boom", {"name": "x"})
    assert isinstance(exc, errors.ApiError) and type(exc).__name__ == cls.__name__
    status = exc.status()
    assert (status["code"], status["reason"], status["message"]) == (code, reason, "boom")
    assert list(status)[-2:] == ["details", "code"]  # the API server's field order
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is cls and again.status() == status


def test_the_error_types_are_distinct():
    with pytest.raises(errors.Conflict):
        try:
            raise errors.Conflict("stale")
        except (errors.AlreadyExists, errors.NotFound):
            pytest.fail("a Conflict is neither AlreadyExists nor NotFound")
    assert errors.not_found("pods", "p").code == 404
    assert "the object has been modified" in errors.conflict("deployments", "d").message
