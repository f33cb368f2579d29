"""`ferry serve` following MLflow registry aliases.

The registry is `ferry server` (started as the MLflow suite starts it); the
models are logged with the real MLflow client (mlflow.xgboost.log_model,
through the artifact proxy) and registered as versions of "credit". The
inference server resolves `models:/credit@champion`, follows the alias when
it moves, and splits traffic between aliases.
"""

from __future__ import annotations

import os
import re
import time
import uuid

import numpy as np
import pytest
import requests

from .harness import FEATURES, FerryServe, expected_predict, make_data, output_array, train_booster, v2_body

pytestmark = pytest.mark.timeout(180)

REGISTERED = "credit"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    from servers import client_env, make_server

    os.environ.update(client_env())
    srv = make_server(tmp_path_factory.mktemp("registry"), kind="ferry")
    srv.start()
    srv.tracking_uri = srv.url
    import mlflow

    mlflow.set_tracking_uri(srv.url)
    yield srv
    code = srv.stop()
    assert code == 0, f"ferry server exited with {code} on SIGTERM:\n{srv.log_tail()}"


@pytest.fixture(scope="module")
def mlflow_client(registry):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=registry.tracking_uri)


def log_and_register(booster, x, registered: str, as_frame=None) -> str:
    import mlflow
    import mlflow.xgboost
    import xgboost as xgb
    from mlflow.models import infer_signature

    sample = x if as_frame is None else as_frame
    proba = booster.predict(xgb.DMatrix(sample))
    with mlflow.start_run():
        # Explicit pip_requirements: skips MLflow's requirement inference
        # (a subprocess that re-imports the model; seconds per model).
        info = mlflow.xgboost.log_model(booster, name="model", signature=infer_signature(sample, proba),
                                        registered_model_name=registered,
                                        pip_requirements=[f"xgboost=={xgb.__version__}"])
    return str(info.registered_model_version)


@pytest.fixture(scope="module")
def credit(registry, mlflow_client):
    """Two different boosters registered as versions 1 and 2 of "credit"."""
    import mlflow

    mlflow.set_experiment(f"serving-{uuid.uuid4().hex[:8]}")
    x, y = make_data()
    boosters = {
        "1": train_booster(x, y, trees=20, depth=4, seed=1),
        "2": train_booster(x[:1000], y[:1000], trees=12, depth=3, eta=0.5, seed=2),
    }
    for version in ("1", "2"):
        assert log_and_register(boosters[version], x, REGISTERED) == version
    held_out, _ = make_data(rows=32, seed=99)
    # The two versions must be distinguishable by their predictions.
    assert not np.array_equal(expected_predict(boosters["1"], held_out),
                              expected_predict(boosters["2"], held_out))
    return boosters, held_out


def set_aliases(mlflow_client, **aliases: str) -> None:
    for alias, version in aliases.items():
        mlflow_client.set_registered_model_alias(REGISTERED, alias, version)


def infer(session: requests.Session, url: str, model: str, x: np.ndarray, request_id: str | None = None,
          headers: dict | None = None) -> dict:
    r = session.post(f"{url}/v2/models/{model}/infer", json=v2_body(x, request_id=request_id, outputs=["predict"]),
                     headers=headers, timeout=30)
    assert r.status_code == 200, f"{r.status_code} {r.text[:500]}"
    body = r.json()
    assert r.headers.get("X-Ferry-Model-Version") == body["model_version"]
    return body


def test_metadata_from_signature(tmp_path, registry, credit, mlflow_client):
    set_aliases(mlflow_client, champion="1")
    with FerryServe(tmp_path, ["--model", f"{REGISTERED}=models:/{REGISTERED}@champion",
                               "--tracking-uri", registry.tracking_uri, "--no-access-log"]) as srv:
        md = requests.get(f"{srv.url}/v2/models/{REGISTERED}", timeout=10).json()
        assert md["name"] == REGISTERED
        # Tensor signature from a float32 numpy array: one unnamed tensor -> input-0.
        assert md["inputs"] == [{"name": "input-0", "datatype": "FP32", "shape": [-1, FEATURES]}]
        assert "predict" in [o["name"] for o in md["outputs"]]


def test_follows_alias(tmp_path, registry, credit, mlflow_client):
    boosters, x = credit
    set_aliases(mlflow_client, champion="1")
    session = requests.Session()
    # The tracking URI from the environment (no --tracking-uri).
    with FerryServe(tmp_path, ["--model", f"{REGISTERED}=models:/{REGISTERED}@champion",
                               "--poll-interval-ms", "200", "--no-access-log"],
                    env={"MLFLOW_TRACKING_URI": registry.tracking_uri}) as srv:
        body = infer(session, srv.url, REGISTERED, x, request_id="before-move")
        assert body["id"] == "before-move"
        assert body["model_version"] == "1"
        np.testing.assert_array_equal(output_array(body, "predict"), expected_predict(boosters["1"], x))

        set_aliases(mlflow_client, champion="2")
        deadline = time.monotonic() + 30
        versions_seen = []
        while True:
            # Every request succeeds while the new version loads.
            body = infer(session, srv.url, REGISTERED, x)
            versions_seen.append(body["model_version"])
            if body["model_version"] == "2":
                break
            assert body["model_version"] == "1"
            assert time.monotonic() < deadline, "alias move to version 2 not picked up within 30 s"
            time.sleep(0.05)
        np.testing.assert_array_equal(output_array(body, "predict"), expected_predict(boosters["2"], x))
        # Once switched, it stays switched.
        for _ in range(20):
            body = infer(session, srv.url, REGISTERED, x)
            assert body["model_version"] == "2"
        np.testing.assert_array_equal(output_array(body, "predict"), expected_predict(boosters["2"], x))

        # And back.
        set_aliases(mlflow_client, champion="1")
        deadline = time.monotonic() + 30
        while infer(session, srv.url, REGISTERED, x)["model_version"] != "1":
            assert time.monotonic() < deadline, "alias move back to version 1 not picked up within 30 s"
            time.sleep(0.05)


def test_pinned_version(tmp_path, registry, credit, mlflow_client):
    boosters, x = credit
    with FerryServe(tmp_path, ["--model", f"pinned=models:/{REGISTERED}/2",
                               "--tracking-uri", registry.tracking_uri, "--no-access-log"]) as srv:
        body = infer(requests.Session(), srv.url, "pinned", x)
        assert body["model_name"] == "pinned"
        assert body["model_version"] == "2"
        np.testing.assert_array_equal(output_array(body, "predict"), expected_predict(boosters["2"], x))


def test_traffic_split_and_sticky(tmp_path, registry, credit, mlflow_client):
    boosters, x = credit
    set_aliases(mlflow_client, champion="1", challenger="2")
    want = {v: expected_predict(b, x[:2]) for v, b in boosters.items()}
    session = requests.Session()
    with FerryServe(tmp_path, ["--model", f"{REGISTERED}=models:/{REGISTERED}@champion",
                               "--traffic", f"{REGISTERED}=@champion:90,@challenger:10",
                               "--tracking-uri", registry.tracking_uri,
                               "--poll-interval-ms", "200", "--no-access-log"]) as srv:
        counts = {"1": 0, "2": 0}
        for n in range(400):
            body = infer(session, srv.url, REGISTERED, x[:2], request_id=f"split-{n}-{uuid.uuid4().hex[:6]}")
            version = body["model_version"]
            assert version in counts, body
            counts[version] += 1
            # Each answer comes from the version it names.
            np.testing.assert_array_equal(output_array(body, "predict"), want[version])
        # Expected 360/40; the bounds are > 4 standard deviations wide.
        assert 310 <= counts["1"] <= 388, counts
        assert 12 <= counts["2"] <= 90, counts

        # Sticky routing: one route key, one version, whatever the request id.
        sticky_versions = {}
        for key in ("customer-1", "customer-2", "customer-3", "customer-4", "customer-5"):
            got = {infer(session, srv.url, REGISTERED, x[:1], request_id=f"{key}-{n}",
                         headers={"X-Ferry-Route-Key": key})["model_version"] for n in range(15)}
            assert len(got) == 1, (key, got)
            sticky_versions[key] = got.pop()

        metrics = session.get(f"{srv.url}/metrics", timeout=10)
        assert metrics.status_code == 200
        successes = [
            float(m.group(1)) for m in re.finditer(
                r'^ferry_inference_request_success_total\{[^}]*model="credit"[^}]*\}\s+([0-9.eE+]+)\s*$',
                metrics.text, re.M)
        ]
        assert successes, metrics.text[:3000]
        assert sum(successes) >= 400 + 5 * 15, metrics.text[:3000]


def test_column_signature(tmp_path, registry, mlflow_client):
    """A model logged from a pandas DataFrame: one 1-D input per column."""
    import pandas as pd
    import xgboost as xgb

    x, y = make_data(features=6, seed=5)
    columns = ["age", "income", "debt", "score", "tenure", "accounts"]
    frame = pd.DataFrame(x.astype(np.float64), columns=columns)
    frame["accounts"] = (np.abs(frame["accounts"]) * 3).astype(np.int64)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 2, "seed": 3},
                        xgb.DMatrix(frame, label=y), num_boost_round=10)
    version = log_and_register(booster, x, "credit_columns", as_frame=frame)
    test = frame.iloc[:9]
    want = booster.predict(xgb.DMatrix(test))
    with FerryServe(tmp_path, ["--model", f"cols=models:/credit_columns/{version}",
                               "--tracking-uri", registry.tracking_uri, "--no-access-log"]) as srv:
        md = requests.get(f"{srv.url}/v2/models/cols", timeout=10).json()
        inputs = {i["name"]: (i["datatype"], i["shape"]) for i in md["inputs"]}
        assert inputs == {**{c: ("FP64", [-1]) for c in columns[:5]}, "accounts": ("INT64", [-1])}, md
        # Columns sent in a different order than the signature's.
        body = {"id": "cols", "inputs": [
            {"name": c, "datatype": "INT64" if c == "accounts" else "FP64", "shape": [len(test)],
             "data": test[c].tolist()} for c in reversed(columns)]}
        r = requests.post(f"{srv.url}/v2/models/cols/infer", json=body, timeout=30)
        assert r.status_code == 200, r.text
        np.testing.assert_array_equal(output_array(r.json(), "predict"), want)
        # A missing column is a 400 naming it.
        body["inputs"] = [i for i in body["inputs"] if i["name"] != "debt"]
        r = requests.post(f"{srv.url}/v2/models/cols/infer", json=body, timeout=30)
        assert r.status_code == 400, r.text
        assert "debt" in r.json()["error"]
