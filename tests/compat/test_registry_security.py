"""Model version `source` values: hostile ones are refused, real ones accepted.

A registered model version's source is later handed to whoever loads
`models:/name/version`: the server resolves it to a download URI. A source
that points outside the server's own artifact store (local files, cloud
metadata endpoints, foreign buckets, other hosts) or escapes it with `..`
would make the registry a file-read / SSRF primitive, so Ferry accepts only
sources inside its artifact store that belong to the run or logged model the
request names, and answers INVALID_PARAMETER_VALUE to everything else.

The hostile table is Ferry-only: the real MLflow server accepts several of
these (3.x: s3://, gs://, dbfs:/; 2.x also http(s)://, ftp://, hdfs://,
runs:/<missing run>, backslashes and mlflow-artifacts://<other host>).
The accepted cases run against MLflow too.

Each hostile source goes through the client and as a raw REST request (so a
client-side check cannot hide a server that would accept it), with and
without a run_id, and afterwards no version exists.
"""

from __future__ import annotations

import http.client
import json
import tempfile
import uuid
from pathlib import Path

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from conftest import MLFLOW_MAJOR, ferry_only


@pytest.fixture(scope="module")
def model_run(server):
    """A run holding a sklearn model under its own artifacts at `model/` (and,
    on 3.x, a logged model too)."""
    client = MlflowClient(tracking_uri=server.tracking_uri)
    exp_id = client.create_experiment(f"registry-security-{uuid.uuid4().hex[:10]}")
    X, y = make_classification(n_samples=100, n_features=4, random_state=3)
    X = pd.DataFrame(X, columns=list("abcd"))
    model = LogisticRegression().fit(X, y)
    with mlflow.start_run(experiment_id=exp_id) as run:
        if MLFLOW_MAJOR >= 3:
            info = mlflow.sklearn.log_model(model, name="model")
            with tempfile.TemporaryDirectory() as tmp:
                mlflow.sklearn.save_model(model, str(Path(tmp) / "model"))
                mlflow.log_artifacts(str(Path(tmp) / "model"), "model")
        else:
            info = mlflow.sklearn.log_model(model, artifact_path="model")
    logged = client.get_logged_model(info.model_id) if MLFLOW_MAJOR >= 3 else None
    return {"exp_id": exp_id, "run": run, "logged": logged, "model": model, "X": X}


@pytest.fixture
def registered(client, unique):
    name = f"sec-{unique}"
    client.create_registered_model(name)
    return name


def _post(server, path: str, doc: dict):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request("POST", path, body=json.dumps(doc).encode(),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


RUN_ID = "<run_id>"  # replaced by the fixture run's id

HOSTILE = [
    pytest.param("file:///etc/passwd", id="file-uri"),
    pytest.param("/etc/passwd", id="absolute-path"),
    pytest.param("file:/etc", id="file-uri-short"),
    pytest.param("http://169.254.169.254/latest/meta-data", id="cloud-metadata"),
    pytest.param("https://example.com/model", id="https"),
    pytest.param("s3://bucket/key", id="s3"),
    pytest.param("mlflow-artifacts:/../../etc", id="artifacts-dotdot"),
    pytest.param("mlflow-artifacts:/0/%2e%2e/%2e%2e/etc", id="artifacts-pct-dotdot"),
    pytest.param("mlflow-artifacts:/0/%252e%252e/x", id="artifacts-double-pct"),
    pytest.param(f"runs:/{RUN_ID}/../../../etc", id="runs-dotdot"),
    pytest.param("runs:/nonexistent_run_id/model", id="runs-missing"),
    pytest.param("models:/other-{unique}/1", id="models-missing"),
    pytest.param("", id="empty"),
    pytest.param("mlflow-artifacts:/0/abc\\..\\..\\x", id="artifacts-backslash"),
    pytest.param("mlflow-artifacts:/0/a\x00b", id="artifacts-nul"),
    pytest.param("file:///proc/self/environ", id="proc-environ"),
    pytest.param("ftp://x/y", id="ftp"),
    pytest.param("gs://b/k", id="gs"),
    pytest.param("hdfs://h/p", id="hdfs"),
    pytest.param("dbfs:/x", id="dbfs"),
    pytest.param("../../x", id="relative-dotdot"),
    pytest.param("mlflow-artifacts://evil.com/0/x", id="artifacts-other-host"),
]


def _expand(source: str, model_run, unique: str) -> str:
    return source.replace(RUN_ID, model_run["run"].info.run_id).replace("{unique}", unique)


@ferry_only
@pytest.mark.parametrize("with_run_id", [True, False], ids=["run_id", "no_run_id"])
@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_source_rejected(server, client, model_run, registered, unique, source, with_run_id):
    source = _expand(source, model_run, unique)
    run_id = model_run["run"].info.run_id if with_run_id else None

    with pytest.raises(MlflowException) as e:
        client.create_model_version(registered, source, run_id, await_creation_for=0)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE", e.value.message

    doc = {"name": registered, "source": source}
    if run_id:
        doc["run_id"] = run_id
    status, body = _post(server, "/api/2.0/mlflow/model-versions/create", doc)
    assert status == 400, body
    err = json.loads(body)
    assert err["error_code"] == "INVALID_PARAMETER_VALUE"
    assert isinstance(err["message"], str) and err["message"]

    assert client.search_model_versions(f"name='{registered}'") == []
    assert client.get_registered_model(registered).latest_versions == []


@ferry_only
def test_hostile_logged_model_sources_rejected(server, client, model_run, registered):
    """A logged-model source must be that logged model's; model_id must match."""
    if MLFLOW_MAJOR < 3:
        pytest.skip("logged models are MLflow 3.x")
    lm = model_run["logged"]
    other = f"m-{uuid.uuid4().hex}"
    cases = [
        (f"models:/{other}", other),                       # logged model that does not exist
        (f"models:/{lm.model_id}/../../x", lm.model_id),   # escape below it
        (f"{lm.artifact_location}/../../../etc", lm.model_id),
        (lm.artifact_location, other),                    # location of a different model id
    ]
    for source, model_id in cases:
        with pytest.raises(MlflowException) as e:
            client.create_model_version(registered, source, model_id=model_id,
                                        await_creation_for=0)
        assert e.value.error_code == "INVALID_PARAMETER_VALUE", (source, e.value.message)
    assert client.search_model_versions(f"name='{registered}'") == []


def _accepted_sources(model_run):
    run = model_run["run"]
    run_id = run.info.run_id
    cases = [
        ("runs", f"runs:/{run_id}/model", {"run_id": run_id}),
        ("run-artifacts",
         f"mlflow-artifacts:/{model_run['exp_id']}/{run_id}/artifacts/model", {"run_id": run_id}),
    ]
    if MLFLOW_MAJOR >= 3:
        lm = model_run["logged"]
        cases += [
            ("logged-model-uri", f"models:/{lm.model_id}", {"model_id": lm.model_id}),
            ("logged-model-artifacts", lm.artifact_location, {"model_id": lm.model_id}),
        ]
    return cases


def test_real_sources_accepted(client, model_run, registered):
    run = model_run["run"]
    assert run.info.artifact_uri == (
        f"mlflow-artifacts:/{model_run['exp_id']}/{run.info.run_id}/artifacts"
    )
    cases = _accepted_sources(model_run)
    for i, (label, source, kwargs) in enumerate(cases, start=1):
        mv = client.create_model_version(registered, source, **kwargs)
        assert (mv.version, mv.source, mv.status) == (str(i), source, "READY"), label
        assert mv.run_id == run.info.run_id, label  # filled from the logged model on 3.x
        loaded = mlflow.pyfunc.load_model(f"models:/{registered}/{mv.version}")
        X = model_run["X"]
        assert np.array_equal(np.asarray(loaded.predict(X)), model_run["model"].predict(X)), label
    found = client.search_model_versions(f"name='{registered}'")
    assert sorted(int(v.version) for v in found) == list(range(1, len(cases) + 1))
