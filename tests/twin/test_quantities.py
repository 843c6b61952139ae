"""twin.quantities reads resource quantities by the API server's grammar."""
import pytest

from twin.quantities import parse_quantity


@pytest.mark.parametrize("text,value", [
    ("500m", 0.5), ("2Gi", 2 * 1024 ** 3), ("1.5", 1.5), ("1e3", 1000.0), ("1E", 1e18),
    ("100Mi", 100 * 1024 ** 2), ("-1", -1.0), (".5", 0.5), ("3k", 3000.0), (" 2 ", 2.0),
    (4, 4.0), (0.25, 0.25), (None, 0.0), ("", 0.0),
])
def test_quantities_in_base_units(text, value):
    assert parse_quantity(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["1K", "abc", "1_000", "inf", "nan", "2 Gi", "1Gb", "--1"])
def test_what_the_grammar_refuses_is_a_value_error(text):
    with pytest.raises(ValueError):
        parse_quantity(text)


def test_admission_rejects_a_request_the_grammar_refuses():
    from twin import admission, resources
    from twin.store.errors import Invalid
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "i",
                                    "resources": {"requests": {"cpu": "1K"}}}]}}
    with pytest.raises(Invalid) as err:
        admission.admit(resources.get("pods"), pod)
    assert "spec.containers[0].resources.requests[cpu]" in str(err.value)
