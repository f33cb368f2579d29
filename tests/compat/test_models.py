"""sklearn flavor: log a model through the server, load it back with pyfunc."""

from __future__ import annotations

import json

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from mlflow.models import infer_signature
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from conftest import MLFLOW_MAJOR


@pytest.fixture(scope="module")
def trained():
    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, random_state=7)
    X = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    model = LogisticRegression(max_iter=500).fit(X, y)
    return model, X, y


def _log(model, X):
    signature = infer_signature(X, model.predict(X))
    kwargs = dict(input_example=X.iloc[:5], signature=signature)
    if MLFLOW_MAJOR >= 3:
        return mlflow.sklearn.log_model(model, name="model", **kwargs)
    return mlflow.sklearn.log_model(model, artifact_path="model", **kwargs)


def test_log_and_load_model(client, experiment_id, trained):
    model, X, _ = trained
    expected = model.predict(X)
    with mlflow.start_run() as run:
        mlflow.log_params(model.get_params())
        info = _log(model, X)
    run_id = run.info.run_id

    uris = [f"runs:/{run_id}/model"]
    if MLFLOW_MAJOR >= 3:
        assert info.model_uri == f"models:/{info.model_id}"
        uris.append(f"models:/{info.model_id}")
    else:
        assert info.model_uri == f"runs:/{run_id}/model"

    for uri in uris:
        loaded = mlflow.pyfunc.load_model(uri)
        got = loaded.predict(X)
        assert np.array_equal(np.asarray(got), expected), uri
        assert loaded.metadata.signature == info.signature
        sk = mlflow.sklearn.load_model(uri)
        assert np.array_equal(sk.predict_proba(X), model.predict_proba(X)), uri

    # The MLmodel file describes the flavors and signature that were sent.
    mlmodel = mlflow.artifacts.load_text(f"{uris[0]}/MLmodel")
    assert "sklearn:" in mlmodel and "python_function:" in mlmodel
    example = mlflow.artifacts.load_dict(f"{uris[0]}/input_example.json")
    assert example["columns"] == [f"f{i}" for i in range(6)]
    assert np.allclose(np.array(example["data"]), X.iloc[:5].to_numpy())

    if MLFLOW_MAJOR >= 3:
        lm = client.get_logged_model(info.model_id)
        assert lm.model_id == info.model_id
        assert lm.name == "model"
        assert lm.source_run_id == run_id
        assert lm.experiment_id == experiment_id
        assert str(lm.status) in ("READY", "LoggedModelStatus.READY")
        assert lm.artifact_location == (
            f"mlflow-artifacts:/{experiment_id}/models/{info.model_id}/artifacts"
        )
        found = client.search_logged_models(experiment_ids=[experiment_id])
        assert [m.model_id for m in found] == [info.model_id]
        outputs = client.get_run(run_id).outputs
        assert [o.model_id for o in outputs.model_outputs] == [info.model_id]
    else:
        history = json.loads(client.get_run(run_id).data.tags["mlflow.log-model.history"])
        assert [h["artifact_path"] for h in history] == ["model"]
        assert history[0]["run_id"] == run_id
