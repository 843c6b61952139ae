"""twin.conformance's report: passed/failed/skipped and failures grouped by cause."""
from twin import conformance

JUNIT = """<?xml version="1.0"?><testsuites><testsuite>
<testcase classname="e2e_test.test_client.TestClient" name="test_ok"/>
<testcase classname="e2e_test.test_client.TestClient" name="test_exec">
  <failure message="ApiException: (0) Reason: Handshake status 405 Method Not Allowed"/>
</testcase>
<testcase classname="e2e_test.test_apps.TestApps" name="test_bad">
  <failure message="ApiException: (422) Reason: Invalid"/></testcase>
<testcase classname="x.T" name="test_skip"><skipped message="no cluster"/></testcase>
</testsuite></testsuites>"""


def test_report_counts_and_causes(tmp_path, capsys):
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT)
    assert conformance.report(str(path)) == 0
    out = capsys.readouterr().out
    assert "e2e against the twin: 1 passed, 2 failed, 1 skipped (1 of 3 run)" in out
    assert "failed, exec/attach/port-forward/proxy not served (websocket): 1  " \
           "(TestClient.test_exec)" in out
    assert "failed, validation (422): 1  (TestApps.test_bad)" in out


def test_classify_falls_back_to_other():
    assert conformance.classify("ZeroDivisionError") == "other"
