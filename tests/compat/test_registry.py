"""Model Registry through the unmodified client: registered models, versions,
tags, search and paging, stages, aliases, and loading models:/ URIs.

Behaviour that differs between the MLflow 2.x and 3.x *servers* is asserted
as the 3.x server behaves (Ferry follows 3.x), except against the real 2.x
server, where its own behaviour is asserted (see `_mlflow2_server`).
"""

from __future__ import annotations

import json
import time
import warnings

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from conftest import MLFLOW_MAJOR
from servers import is_mlflow_server

# The real MLflow 2.x server keeps an alias that points at a deleted version
# (get-by-alias then answers 404); the 3.x server drops such aliases.
_mlflow2_server = is_mlflow_server() and MLFLOW_MAJOR < 3


@pytest.fixture(scope="module")
def trained():
    X, y = make_classification(n_samples=200, n_features=5, n_informative=3, random_state=11)
    X = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    model = LogisticRegression(max_iter=300).fit(X, y)
    return model, X


def _now_ms() -> int:
    return int(time.time() * 1000)


def _log_model_run(model, X, *, run_path_copy: bool = False):
    """A finished run with params, a metric and the model logged by log_model.

    run_path_copy: also put a full copy of the model under the run's own
    artifacts at `model/` (on 2.x log_model already stores it there; on 3.x
    the model lives under the logged model's artifact location instead), so
    that `<run artifact_uri>/model` is a loadable source on both versions.
    """
    import tempfile
    from pathlib import Path

    signature = infer_signature(X, model.predict(X))
    with mlflow.start_run() as run:
        mlflow.log_param("C", model.C)
        mlflow.log_metric("auc", 0.9)
        if MLFLOW_MAJOR >= 3:
            info = mlflow.sklearn.log_model(model, name="model", signature=signature)
            if run_path_copy:
                with tempfile.TemporaryDirectory() as tmp:
                    local = Path(tmp) / "model"
                    mlflow.sklearn.save_model(model, str(local), signature=signature)
                    mlflow.log_artifacts(str(local), "model")
        else:
            info = mlflow.sklearn.log_model(model, artifact_path="model", signature=signature)
    return run, info


def _expect_error(code: str, fn, *args, **kwargs) -> MlflowException:
    with pytest.raises(MlflowException) as e:
        fn(*args, **kwargs)
    assert e.value.error_code == code, e.value.message
    return e.value


def _assert_predicts_like(uri: str, model, X) -> None:
    loaded = mlflow.pyfunc.load_model(uri)
    assert np.array_equal(np.asarray(loaded.predict(X)), model.predict(X)), uri


# ---------------------------------------------------------------------------
# register_model


def test_register_model_from_run(client, experiment_id, trained, unique):
    model, X = trained
    name = f"reg-run-{unique}"
    run, info = _log_model_run(model, X)
    run_id = run.info.run_id

    before = _now_ms()
    mv = mlflow.register_model(f"runs:/{run_id}/model", name)
    assert mv.name == name
    assert mv.version == "1"
    assert mv.run_id == run_id
    assert mv.status == "READY"
    assert mv.current_stage == "None"
    assert mv.description == ""
    assert mv.tags == {}
    assert mv.aliases == []
    assert mv.run_link == ""
    assert mv.user_id == ""  # the client sends none and the server does not invent one
    assert before - 5_000 <= mv.creation_timestamp <= _now_ms() + 5_000
    assert mv.last_updated_timestamp == mv.creation_timestamp

    if MLFLOW_MAJOR >= 3:
        # The 3.x log_model stores no files under the run's `model/` path, so
        # register_model falls back to the run's logged model.
        assert mv.source == f"models:/{info.model_id}"
        expected_download = client.get_logged_model(info.model_id).artifact_location
    else:
        expected_download = f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts/model"
        assert mv.source == expected_download
    assert client.get_model_version_download_uri(name, "1") == expected_download

    got = client.get_model_version(name, "1")
    assert (got.name, got.version, got.source, got.run_id, got.status) == (
        name, "1", mv.source, run_id, "READY",
    )
    assert got.creation_timestamp == mv.creation_timestamp

    rm = client.get_registered_model(name)
    assert rm.name == name
    assert [v.version for v in rm.latest_versions] == ["1"]
    assert rm.creation_timestamp <= mv.creation_timestamp

    _assert_predicts_like(f"models:/{name}/1", model, X)


@pytest.mark.skipif(MLFLOW_MAJOR < 3, reason="logged models (models:/<model_id>) are MLflow 3.x")
def test_register_logged_model_uri(client, experiment_id, trained, unique):
    model, X = trained
    name = f"reg-lm-{unique}"
    run, info = _log_model_run(model, X)
    run_id = run.info.run_id
    assert info.model_uri == f"models:/{info.model_id}"

    v1 = mlflow.register_model(info.model_uri, name)
    assert (v1.name, v1.version, v1.source, v1.run_id) == (name, "1", info.model_uri, run_id)
    v2 = mlflow.register_model(f"runs:/{run_id}/model", name)  # existing model: new version
    assert (v2.version, v2.source, v2.run_id) == ("2", info.model_uri, run_id)

    lm = client.get_logged_model(info.model_id)
    assert lm.artifact_location == (
        f"mlflow-artifacts:/{experiment_id}/models/{info.model_id}/artifacts"
    )
    for version in ("1", "2"):
        assert client.get_model_version_download_uri(name, version) == lm.artifact_location
    # The client records the versions on the logged model (the MLflow server
    # also writes its own entries, with integer versions: compare as pairs).
    links = json.loads(lm.tags["mlflow.modelVersions"])
    assert {(d["name"], str(d["version"])) for d in links} == {(name, "1"), (name, "2")}

    _assert_predicts_like(f"models:/{name}/1", model, X)
    _assert_predicts_like(f"models:/{name}/2", model, X)


# ---------------------------------------------------------------------------
# registered models


def test_registered_model_crud(client, unique):
    name = f"crud-{unique}"
    before = _now_ms()
    rm = client.create_registered_model(
        name, tags={"team": "risk", "tier": "1"}, description="credit scoring"
    )
    assert rm.name == name
    assert rm.tags == {"team": "risk", "tier": "1"}
    assert rm.description == "credit scoring"
    assert rm.latest_versions == []
    assert rm.aliases == {}
    assert before - 5_000 <= rm.creation_timestamp <= _now_ms() + 5_000
    assert rm.last_updated_timestamp == rm.creation_timestamp

    got = client.get_registered_model(name)
    assert (got.name, got.tags, got.description, got.latest_versions, got.aliases) == (
        name, {"team": "risk", "tier": "1"}, "credit scoring", [], {},
    )
    assert got.creation_timestamp == rm.creation_timestamp

    updated = client.update_registered_model(name, description="credit scoring v2")
    assert updated.name == name and updated.description == "credit scoring v2"
    assert client.get_registered_model(name).description == "credit scoring v2"
    assert client.get_registered_model(name).last_updated_timestamp >= rm.creation_timestamp

    client.set_registered_model_tag(name, "owner", "alice")
    client.set_registered_model_tag(name, "tier", "2")  # overwrite
    client.delete_registered_model_tag(name, "team")
    client.delete_registered_model_tag(name, "never-set")  # no error
    assert client.get_registered_model(name).tags == {"owner": "alice", "tier": "2"}

    e = _expect_error("RESOURCE_ALREADY_EXISTS", client.create_registered_model, name)
    assert name in e.message
    assert e.get_http_status_code() == 400

    client.delete_registered_model(name)
    e = _expect_error("RESOURCE_DOES_NOT_EXIST", client.get_registered_model, name)
    assert e.get_http_status_code() == 404
    _expect_error("RESOURCE_DOES_NOT_EXIST", client.delete_registered_model, name)


def test_missing_registered_model_errors(client, experiment_id, unique):
    run_id = client.create_run(experiment_id).info.run_id
    missing = f"missing-{unique}"
    e = _expect_error("RESOURCE_DOES_NOT_EXIST", client.get_registered_model, missing)
    assert missing in e.message
    assert e.get_http_status_code() == 404
    _expect_error("RESOURCE_DOES_NOT_EXIST", client.update_registered_model, missing, "d")
    _expect_error("RESOURCE_DOES_NOT_EXIST", client.rename_registered_model, missing, missing + "-x")
    _expect_error("RESOURCE_DOES_NOT_EXIST", client.set_registered_model_tag, missing, "k", "v")
    _expect_error("RESOURCE_DOES_NOT_EXIST", client.get_model_version, missing, "1")
    _expect_error(
        "RESOURCE_DOES_NOT_EXIST", client.create_model_version, missing, f"runs:/{run_id}/m", run_id
    )
    _expect_error("INVALID_PARAMETER_VALUE", client.create_registered_model, "")


def test_rename_moves_versions_and_aliases(client, experiment_id, unique):
    old, new, taken = f"ren-{unique}", f"ren-{unique}-new", f"ren-{unique}-taken"
    run = client.create_run(experiment_id)
    run_id = run.info.run_id
    source = f"{run.info.artifact_uri}/model"
    client.create_registered_model(old, tags={"k": "v"}, description="d")
    client.create_registered_model(taken)
    for _ in range(2):
        client.create_model_version(old, source, run_id)
    client.set_registered_model_alias(old, "champion", "2")

    _expect_error("RESOURCE_ALREADY_EXISTS", client.rename_registered_model, old, taken)
    assert client.get_registered_model(old).name == old  # unchanged

    client.rename_registered_model(old, new)  # the client returns None
    _expect_error("RESOURCE_DOES_NOT_EXIST", client.get_registered_model, old)
    _expect_error("RESOURCE_DOES_NOT_EXIST", client.get_model_version, old, "1")
    rm = client.get_registered_model(new)
    assert (rm.tags, rm.description, rm.aliases) == ({"k": "v"}, "d", {"champion": "2"})
    assert [v.name for v in rm.latest_versions] == [new]
    v1 = client.get_model_version(new, "1")
    assert (v1.name, v1.source, v1.run_id) == (new, source, run_id)
    assert client.get_model_version_by_alias(new, "champion").version == "2"
    assert {v.version for v in client.search_model_versions(f"name='{new}'")} == {"1", "2"}
    assert client.search_model_versions(f"name='{old}'") == []


# ---------------------------------------------------------------------------
# search_registered_models


def test_search_registered_models(client, unique):
    prefix = f"srch-{unique}-"
    order = [5, 0, 11, 3, 7, 1, 9, 2, 10, 4, 8, 6]  # creation order is not name order
    for i in order:
        client.create_registered_model(
            f"{prefix}{i:02d}", tags={"batch": unique, "parity": "even" if i % 2 == 0 else "odd"}
        )
    client.create_registered_model(f"other-{unique}", tags={"batch": unique, "parity": "none"})
    by_name = [f"{prefix}{i:02d}" for i in range(12)]

    def names(found):
        return [m.name for m in found]

    # Default order is name ASC.
    found = client.search_registered_models(f"name LIKE '{prefix}%'")
    assert names(found) == by_name
    assert not found.token
    assert names(client.search_registered_models(f"name LIKE '{prefix}%'", order_by=["name DESC"])) == (
        by_name[::-1]
    )
    assert len(client.search_registered_models(f"name ILIKE '{prefix.upper()}%'")) == 12
    assert names(client.search_registered_models(f"name = '{prefix}03'")) == [f"{prefix}03"]
    assert names(client.search_registered_models(f"tags.batch = '{unique}'")) == (
        [f"other-{unique}"] + by_name
    )
    assert names(
        client.search_registered_models(f"tags.batch = '{unique}' AND tags.parity = 'even'")
    ) == by_name[0::2]
    assert names(
        client.search_registered_models(
            f"name LIKE '{prefix}%' AND tags.parity = 'odd'", order_by=["name DESC"]
        )
    ) == by_name[1::2][::-1]

    # last_updated_timestamp DESC, ties broken by name ASC.
    models = {m.name: m for m in found}
    expected = sorted(by_name, key=lambda n: (-models[n].last_updated_timestamp, n))
    assert names(
        client.search_registered_models(
            f"name LIKE '{prefix}%'", order_by=["last_updated_timestamp DESC"]
        )
    ) == expected

    # Paging: 5 + 5 + 2, in order, the last page without a token.
    pages, token = [], None
    while True:
        page = client.search_registered_models(
            f"name LIKE '{prefix}%'", max_results=5, page_token=token, order_by=["name ASC"]
        )
        pages.append(names(page))
        token = page.token
        if not token:
            break
        assert len(pages) < 10
    assert pages == [by_name[0:5], by_name[5:10], by_name[10:12]]

    # A page that is exactly full: the next page is fetched and is empty or absent.
    got, token, calls = [], None, 0
    while True:
        page = client.search_registered_models(
            f"name LIKE '{prefix}%'", max_results=6, page_token=token
        )
        got += names(page)
        calls += 1
        token = page.token
        if not token:
            break
        assert calls < 10
    assert got == by_name

    assert len(client.search_registered_models(f"name LIKE '{prefix}%'", max_results=1000)) == 12
    _expect_error("INVALID_PARAMETER_VALUE", client.search_registered_models, max_results=1001)
    _expect_error("INVALID_PARAMETER_VALUE", client.search_registered_models, "name LIKE")
    _expect_error("INVALID_PARAMETER_VALUE", client.search_registered_models, "bogus = 'x'")
    _expect_error(
        "INVALID_PARAMETER_VALUE", client.search_registered_models, order_by=["bogus ASC"]
    )


# ---------------------------------------------------------------------------
# model versions


def test_model_version_crud(client, experiment_id, trained, unique):
    model, X = trained
    name = f"mv-{unique}"
    run, _ = _log_model_run(model, X, run_path_copy=True)
    run_id = run.info.run_id
    source = f"{run.info.artifact_uri}/model"
    assert source == f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts/model"
    client.create_registered_model(name)

    before = _now_ms()
    mv = client.create_model_version(
        name, source, run_id, tags={"stage": "candidate"}, description="first"
    )
    assert (mv.name, mv.version, mv.source, mv.run_id) == (name, "1", source, run_id)
    assert (mv.tags, mv.description, mv.status, mv.current_stage) == (
        {"stage": "candidate"}, "first", "READY", "None",
    )
    assert mv.aliases == []
    assert mv.user_id == ""
    assert before - 5_000 <= mv.creation_timestamp <= _now_ms() + 5_000

    got = client.get_model_version(name, "1")
    assert (got.version, got.source, got.run_id, got.tags, got.description) == (
        "1", source, run_id, {"stage": "candidate"}, "first",
    )
    assert client.get_model_version_download_uri(name, "1") == source

    updated = client.update_model_version(name, "1", description="updated")
    assert (updated.version, updated.description) == ("1", "updated")
    assert client.get_model_version(name, "1").description == "updated"

    client.set_model_version_tag(name, "1", "validation_status", "passed")
    client.set_model_version_tag(name, "1", "stage", "reviewed")  # overwrite
    client.delete_model_version_tag(name, "1", "never-set")  # no error
    assert client.get_model_version(name, "1").tags == {
        "stage": "reviewed", "validation_status": "passed",
    }
    client.delete_model_version_tag(name, "1", "stage")
    assert client.get_model_version(name, "1").tags == {"validation_status": "passed"}

    # A `runs:/` source naming the same run is accepted as is.
    v2 = client.create_model_version(name, f"runs:/{run_id}/model", run_id)
    v3 = client.create_model_version(name, source, run_id)
    assert (v2.version, v2.source, v3.version) == ("2", f"runs:/{run_id}/model", "3")

    # Deleted version numbers are never reused.
    client.delete_model_version(name, "3")
    _expect_error("RESOURCE_DOES_NOT_EXIST", client.get_model_version, name, "3")
    _expect_error("RESOURCE_DOES_NOT_EXIST", client.delete_model_version, name, "3")
    assert client.create_model_version(name, source, run_id).version == "4"

    e = _expect_error("RESOURCE_DOES_NOT_EXIST", client.get_model_version, name, "99")
    assert e.get_http_status_code() == 404
    _expect_error("RESOURCE_DOES_NOT_EXIST", client.update_model_version, name, "99", "x")
    _expect_error("RESOURCE_DOES_NOT_EXIST", client.set_model_version_tag, name, "99", "k", "v")
    _expect_error("RESOURCE_DOES_NOT_EXIST", client.get_model_version_download_uri, name, "99")

    # The model stored under the run's artifacts loads through the registry.
    _assert_predicts_like(f"models:/{name}/1", model, X)
    _assert_predicts_like(f"models:/{name}/4", model, X)

    # Deleting the registered model deletes its versions.
    client.delete_registered_model(name)
    _expect_error("RESOURCE_DOES_NOT_EXIST", client.get_model_version, name, "1")


def test_search_model_versions(client, experiment_id, unique):
    name, other = f"smv-{unique}", f"smv-{unique}-other"
    run_a = client.create_run(experiment_id).info
    run_b = client.create_run(experiment_id).info
    client.create_registered_model(name)
    client.create_registered_model(other)
    for i, run in enumerate([run_a, run_b, run_a]):
        client.create_model_version(
            name, f"{run.artifact_uri}/model", run.run_id, tags={"i": str(i)}
        )
    client.create_model_version(other, f"{run_a.artifact_uri}/model", run_a.run_id)

    def pairs(found):
        return [(m.name, m.version) for m in found]

    # Default order: last_updated_timestamp DESC, name ASC, version DESC; for
    # versions created one after the other that is newest first.
    assert pairs(client.search_model_versions(f"name='{name}'")) == [
        (name, "3"), (name, "2"), (name, "1"),
    ]
    assert pairs(client.search_model_versions(f"name='{name}'", order_by=["version_number ASC"])) == [
        (name, "1"), (name, "2"), (name, "3"),
    ]
    assert sorted(pairs(client.search_model_versions(f"run_id='{run_a.run_id}'"))) == [
        (name, "1"), (name, "3"), (other, "1"),
    ]
    assert pairs(client.search_model_versions(f"run_id='{run_b.run_id}'")) == [(name, "2")]
    assert pairs(client.search_model_versions(f"name='{name}' AND tags.i='1'")) == [(name, "2")]
    assert pairs(
        client.search_model_versions(f"name='{name}' AND run_id='{run_a.run_id}'",
                                     order_by=["version_number DESC"])
    ) == [(name, "3"), (name, "1")]
    assert sorted(pairs(client.search_model_versions(f"name LIKE 'smv-{unique}%'"))) == [
        (name, "1"), (name, "2"), (name, "3"), (other, "1"),
    ]
    assert client.search_model_versions(f"name='nope-{unique}'") == []
    page = client.search_model_versions(f"name='{name}'", max_results=2,
                                        order_by=["version_number ASC"])
    assert pairs(page) == [(name, "1"), (name, "2")]
    assert page.token
    rest = client.search_model_versions(f"name='{name}'", max_results=2, page_token=page.token,
                                        order_by=["version_number ASC"])
    assert pairs(rest) == [(name, "3")]
    assert not rest.token


# ---------------------------------------------------------------------------
# stages (deprecated since 2.9, still served by 2.x and 3.x)


def _stage_call(fn, *args, **kwargs):
    """Stage APIs warn (FutureWarning, deprecated since 2.9.0) on both majors."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    assert any(
        issubclass(w.category, FutureWarning) and "deprecated since 2.9.0" in str(w.message)
        for w in caught
    ), [str(w.message) for w in caught]
    return result


def test_stages_and_latest_versions(client, experiment_id, unique):
    name = f"stages-{unique}"
    run = client.create_run(experiment_id).info
    client.create_registered_model(name)
    for _ in range(4):
        client.create_model_version(name, f"{run.artifact_uri}/model", run.run_id)

    def latest(stages=None):
        return sorted(
            (v.version, v.current_stage)
            for v in _stage_call(client.get_latest_versions, name, stages)
        )

    assert latest() == [("4", "None")]
    mv = _stage_call(client.transition_model_version_stage, name, "1", "Staging")
    assert (mv.version, mv.current_stage) == ("1", "Staging")
    mv = _stage_call(client.transition_model_version_stage, name, "2", "production")
    assert mv.current_stage == "Production"  # stage names are case-insensitive, stored canonical
    _stage_call(client.transition_model_version_stage, name, "3", "Production")

    assert latest() == [("1", "Staging"), ("3", "Production"), ("4", "None")]
    assert latest(["Production"]) == [("3", "Production")]
    assert latest(["production"]) == [("3", "Production")]
    assert latest(["Staging", "Production"]) == [("1", "Staging"), ("3", "Production")]
    assert latest(["Archived"]) == []
    assert sorted((v.version, v.current_stage)
                  for v in client.get_registered_model(name).latest_versions) == latest()

    # archive_existing_versions: every other version in the target stage is archived.
    mv = _stage_call(
        client.transition_model_version_stage, name, "4", "Production",
        archive_existing_versions=True,
    )
    assert (mv.version, mv.current_stage) == ("4", "Production")
    stages = {v.version: v.current_stage for v in client.search_model_versions(f"name='{name}'")}
    assert stages == {"1": "Staging", "2": "Archived", "3": "Archived", "4": "Production"}
    assert latest(["Production"]) == [("4", "Production")]
    assert latest() == [("1", "Staging"), ("3", "Archived"), ("4", "Production")]

    # Without archive_existing_versions nothing else moves.
    _stage_call(client.transition_model_version_stage, name, "1", "Production")
    stages = {v.version: v.current_stage for v in client.search_model_versions(f"name='{name}'")}
    assert stages == {"1": "Production", "2": "Archived", "3": "Archived", "4": "Production"}
    assert latest(["Production"]) == [("4", "Production")]  # the highest version in the stage

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e = _expect_error(
            "INVALID_PARAMETER_VALUE", client.transition_model_version_stage, name, "1", "Bogus"
        )
        assert "Bogus" in e.message
        _expect_error("INVALID_PARAMETER_VALUE", client.get_latest_versions, name, ["Bogus"])
        _expect_error(
            "RESOURCE_DOES_NOT_EXIST", client.transition_model_version_stage, name, "99", "Staging"
        )
        _expect_error("RESOURCE_DOES_NOT_EXIST", client.get_latest_versions, f"nope-{unique}")


# ---------------------------------------------------------------------------
# aliases


def test_aliases(client, experiment_id, unique):
    name = f"alias-{unique}"
    run = client.create_run(experiment_id).info
    client.create_registered_model(name)
    for _ in range(3):
        client.create_model_version(name, f"{run.artifact_uri}/model", run.run_id)

    client.set_registered_model_alias(name, "champion", "1")
    client.set_registered_model_alias(name, "Challenger-2", "2")
    mv = client.get_model_version_by_alias(name, "champion")
    assert (mv.name, mv.version, mv.aliases) == (name, "1", ["champion"])
    assert client.get_registered_model(name).aliases == {"champion": "1", "Challenger-2": "2"}
    assert client.get_model_version(name, "2").aliases == ["Challenger-2"]

    # Moving an alias takes it off the old version.
    client.set_registered_model_alias(name, "champion", "2")
    assert client.get_model_version(name, "1").aliases == []
    assert client.get_model_version(name, "2").aliases == ["Challenger-2", "champion"]
    assert client.get_model_version_by_alias(name, "champion").version == "2"

    client.delete_registered_model_alias(name, "Challenger-2")
    client.delete_registered_model_alias(name, "never-set")  # no error
    assert client.get_registered_model(name).aliases == {"champion": "2"}
    e = _expect_error(
        "INVALID_PARAMETER_VALUE", client.get_model_version_by_alias, name, "Challenger-2"
    )
    assert "Challenger-2" in e.message

    _expect_error("RESOURCE_DOES_NOT_EXIST", client.set_registered_model_alias, name, "x", "99")
    _expect_error("RESOURCE_DOES_NOT_EXIST", client.set_registered_model_alias,
                  f"nope-{unique}", "x", "1")
    # Reserved names: "latest" (any case) and v<number>.
    _expect_error("INVALID_PARAMETER_VALUE", client.set_registered_model_alias, name, "latest", "1")
    _expect_error("INVALID_PARAMETER_VALUE", client.set_registered_model_alias, name, "LATEST", "1")
    _expect_error("INVALID_PARAMETER_VALUE", client.set_registered_model_alias, name, "v2", "1")
    assert client.get_registered_model(name).aliases == {"champion": "2"}

    # Deleting the version an alias points at.
    client.set_registered_model_alias(name, "stale", "3")
    client.delete_model_version(name, "3")
    if _mlflow2_server:
        assert client.get_registered_model(name).aliases == {"champion": "2", "stale": "3"}
        _expect_error("RESOURCE_DOES_NOT_EXIST", client.get_model_version_by_alias, name, "stale")
    else:
        assert client.get_registered_model(name).aliases == {"champion": "2"}
        _expect_error("INVALID_PARAMETER_VALUE", client.get_model_version_by_alias, name, "stale")


# ---------------------------------------------------------------------------
# loading through models:/ URIs


def test_load_registered_model_uris(client, experiment_id, trained, unique):
    model, X = trained
    name = f"load-{unique}"
    run, _ = _log_model_run(model, X)
    run_id = run.info.run_id
    v1 = mlflow.register_model(f"runs:/{run_id}/model", name)
    assert v1.version == "1"
    client.set_registered_model_alias(name, "champion", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client.transition_model_version_stage(name, "1", "Production")

    for uri in (
        f"models:/{name}/1",
        f"models:/{name}@champion",
        f"models:/{name}/Production",
        f"models:/{name}/latest",
    ):
        _assert_predicts_like(uri, model, X)

    sk = mlflow.sklearn.load_model(f"models:/{name}@champion")
    assert np.array_equal(sk.predict_proba(X), model.predict_proba(X))
    assert sk.get_params() == model.get_params()

    # The MLmodel file is reachable through the registry URI too.
    mlmodel = mlflow.artifacts.load_text(f"models:/{name}/1/MLmodel")
    assert "sklearn:" in mlmodel and "python_function:" in mlmodel
    assert f"run_id: {run_id}" in mlmodel

    with pytest.raises(MlflowException):
        mlflow.pyfunc.load_model(f"models:/{name}/7")
    with pytest.raises(MlflowException):
        mlflow.pyfunc.load_model(f"models:/{name}@nobody")
