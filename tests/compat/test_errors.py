"""Error shapes on the wire, and hostile artifact paths.

Raw requests use http.client, not `requests`: urllib3 removes dot segments
from URLs before sending, which would hide exactly what is tested here.
"""

from __future__ import annotations

import http.client
import json
import uuid
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException

from conftest import MLFLOW_MAJOR, ferry_only
from servers import is_mlflow_server

ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


def raw(server, method, target, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def assert_error(status, body, want_status, want_code):
    assert status == want_status, body
    doc = json.loads(body)
    assert doc["error_code"] == want_code
    assert isinstance(doc["message"], str) and doc["message"]


def test_client_missing_run_error_code(client):
    with pytest.raises(MlflowException) as e:
        client.get_run(uuid.uuid4().hex)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as e:
        client.log_param(uuid.uuid4().hex, "k", "v")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_wire_missing_run(server):
    status, headers, body = raw(server, "GET", f"/api/2.0/mlflow/runs/get?run_id={'0' * 32}")
    assert_error(status, body, 404, "RESOURCE_DOES_NOT_EXIST")
    assert headers.get("content-type", "").startswith("application/json")


def test_wire_missing_experiment(server):
    status, _, body = raw(server, "GET", "/api/2.0/mlflow/experiments/get?experiment_id=987654321")
    assert_error(status, body, 404, "RESOURCE_DOES_NOT_EXIST")
    status, _, body = raw(
        server, "GET", f"/api/2.0/mlflow/experiments/get-by-name?experiment_name=nope-{uuid.uuid4().hex}"
    )
    assert_error(status, body, 404, "RESOURCE_DOES_NOT_EXIST")


def test_wire_missing_required_parameter(server):
    status, _, body = raw(server, "GET", "/api/2.0/mlflow/runs/get")
    assert_error(status, body, 400, "INVALID_PARAMETER_VALUE")
    status, _, body = raw(
        server, "POST", "/api/2.0/mlflow/experiments/create", b"{}", {"Content-Type": "application/json"}
    )
    assert_error(status, body, 400, "INVALID_PARAMETER_VALUE")


def test_wire_bad_value_type(server, client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    payload = json.dumps({"run_id": run_id, "key": "k", "value": "not-a-number", "timestamp": 1})
    status, _, body = raw(
        server, "POST", "/api/2.0/mlflow/runs/log-metric", payload.encode(),
        {"Content-Type": "application/json"},
    )
    assert_error(status, body, 400, "INVALID_PARAMETER_VALUE")


def test_wire_malformed_json(server):
    status, _, body = raw(
        server, "POST", "/api/2.0/mlflow/runs/log-metric", b"{not json",
        {"Content-Type": "application/json"},
    )
    assert status == 400
    assert "error_code" in json.loads(body)


def test_wire_unknown_endpoint(server):
    status, _, _ = raw(server, "GET", "/api/2.0/mlflow/no-such-endpoint")
    assert status == 404


def test_wire_duplicate_experiment(server, unique):
    payload = json.dumps({"name": f"dup-wire-{unique}"}).encode()
    hdr = {"Content-Type": "application/json"}
    status, _, body = raw(server, "POST", "/api/2.0/mlflow/experiments/create", payload, hdr)
    assert status == 200 and json.loads(body)["experiment_id"]
    status, _, body = raw(server, "POST", "/api/2.0/mlflow/experiments/create", payload, hdr)
    assert_error(status, body, 400, "RESOURCE_ALREADY_EXISTS")


# MLflow 2.x's Flask merges '//' and answers 308 for absolute paths in the URL
# path; MLflow 3.x answers 400 like Ferry. Backslashes are accepted by MLflow
# (stored as a literal file name on POSIX); Ferry rejects them.
_mlflow2_server = is_mlflow_server() and MLFLOW_MAJOR < 3
_not_on_mlflow2 = pytest.mark.skipif(_mlflow2_server, reason="MLflow 2.x redirects (308)")

HOSTILE = [
    pytest.param("../../../../etc/passwd", id="dotdot"),
    pytest.param("1/../../../../etc/passwd", id="dotdot-inner"),
    pytest.param("%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", id="pct-dotdot"),
    pytest.param("%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", id="pct-dotdot-slash"),
    pytest.param("%252e%252e/%252e%252e/etc/passwd", id="double-pct-dotdot"),
    pytest.param("/etc/passwd", id="absolute", marks=_not_on_mlflow2),
    pytest.param("%2Fetc%2Fpasswd", id="pct-absolute", marks=_not_on_mlflow2),
    pytest.param("..%5C..%5Cetc%5Cpasswd", id="backslash", marks=ferry_only),
    pytest.param("C:%5Cwindows%5Cwin.ini", id="drive-letter"),
]


@pytest.mark.parametrize("path", HOSTILE)
def test_hostile_artifact_download(server, path):
    status, _, body = raw(server, "GET", f"{ARTIFACTS}/{path}")
    assert_error(status, body, 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize("path", HOSTILE)
def test_hostile_artifact_upload(server, path):
    marker = f"ferry-hostile-{uuid.uuid4().hex}"
    status, _, body = raw(server, "PUT", f"{ARTIFACTS}/{path}{marker}", b"evil")
    assert_error(status, body, 400, "INVALID_PARAMETER_VALUE")
    # Nothing was written anywhere under the test's directories or at the target.
    workdir = server.artifacts_dir.parent
    stray = [*workdir.parent.rglob(f"*{marker}*"), *Path("/etc").glob(f"*{marker}*")]
    for p in stray:
        if p.is_file() and not str(p).startswith(str(workdir.parent)):
            p.unlink()  # don't leave an escaped file behind in /etc
    assert not stray


@pytest.mark.parametrize("path", HOSTILE)
def test_hostile_artifact_list(server, path):
    status, _, body = raw(server, "GET", f"{ARTIFACTS}?path={path}")
    assert_error(status, body, 400, "INVALID_PARAMETER_VALUE")


def test_artifact_upload_download_roundtrip_raw(server, unique):
    target = f"{ARTIFACTS}/raw-{unique}/dir/file.bin"
    payload = bytes(range(256))
    status, _, _ = raw(server, "PUT", target, payload)
    assert status == 200
    status, _, body = raw(server, "GET", target)
    assert (status, body) == (200, payload)
    status, _, body = raw(server, "GET", f"{ARTIFACTS}?path=raw-{unique}/dir")
    assert status == 200
    assert json.loads(body) == {"files": [{"path": "file.bin", "is_dir": False, "file_size": 256}]}
