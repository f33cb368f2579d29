"""Runs: lifecycle, nesting, params, metrics, batch limits, tags."""

from __future__ import annotations

import math
import time

import mlflow
import pytest
from mlflow.entities import Metric, Param, RunStatus, RunTag
from mlflow.exceptions import MlflowException

from conftest import rest_store, user_tags


def test_create_get_update_run(client, experiment_id):
    run = client.create_run(experiment_id, start_time=1_700_000_000_000, run_name="first")
    info = run.info
    assert info.experiment_id == experiment_id
    assert len(info.run_id) == 32 and all(c in "0123456789abcdef" for c in info.run_id)
    assert info.status == "RUNNING"
    assert info.start_time == 1_700_000_000_000
    assert info.end_time is None
    assert info.lifecycle_stage == "active"
    assert info.run_name == "first"
    assert info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{info.run_id}/artifacts"
    assert run.data.tags["mlflow.runName"] == "first"

    client.set_terminated(info.run_id, status="FAILED", end_time=1_700_000_005_000)
    got = client.get_run(info.run_id).info
    assert got.status == "FAILED"
    assert got.end_time == 1_700_000_005_000

    client.update_run(info.run_id, name="renamed")
    got = client.get_run(info.run_id)
    assert got.info.run_name == "renamed"
    assert got.data.tags["mlflow.runName"] == "renamed"


def test_fluent_run_finishes(experiment_id):
    with mlflow.start_run(run_name="fluent") as run:
        run_id = run.info.run_id
    got = mlflow.get_run(run_id)
    assert got.info.status == RunStatus.to_string(RunStatus.FINISHED)
    assert got.info.end_time is not None and got.info.end_time >= got.info.start_time
    assert got.info.run_name == "fluent"


def test_nested_runs(client, experiment_id):
    with mlflow.start_run(run_name="parent") as parent:
        with mlflow.start_run(run_name="child-1", nested=True) as c1:
            pass
        with mlflow.start_run(run_name="child-2", nested=True) as c2:
            with mlflow.start_run(run_name="grandchild", nested=True) as gc:
                pass
    pid, c1id, c2id, gcid = (r.info.run_id for r in (parent, c1, c2, gc))
    assert "mlflow.parentRunId" not in client.get_run(pid).data.tags
    assert client.get_run(c1id).data.tags["mlflow.parentRunId"] == pid
    assert client.get_run(c2id).data.tags["mlflow.parentRunId"] == pid
    assert client.get_run(gcid).data.tags["mlflow.parentRunId"] == c2id

    children = client.search_runs(
        [experiment_id], filter_string=f"tags.mlflow.parentRunId = '{pid}'"
    )
    assert {r.info.run_id for r in children} == {c1id, c2id}
    assert {r.info.run_name for r in children} == {"child-1", "child-2"}


def test_params(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "lr", 0.01)
    client.log_param(run_id, "layers", 3)
    client.log_param(run_id, "name", "résumé ✓")
    client.log_param(run_id, "empty", "")
    long_value = "v" * 6000  # MLflow >= 2 accepts param values up to 6000 chars
    client.log_param(run_id, "long", long_value)
    assert client.get_run(run_id).data.params == {
        "lr": "0.01",
        "layers": "3",
        "name": "résumé ✓",
        "empty": "",
        "long": long_value,
    }


def test_param_relog_same_ok_different_raises(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "alpha", "0.5")
    client.log_param(run_id, "alpha", "0.5")
    with pytest.raises(MlflowException) as e:
        client.log_param(run_id, "alpha", "0.7")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert client.get_run(run_id).data.params == {"alpha": "0.5"}

    with pytest.raises(MlflowException) as e:
        client.log_batch(run_id, params=[Param("alpha", "0.9")])
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"


def test_metrics_steps_timestamps_history(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    base = 1_700_000_000_000
    expected = []
    for step in range(50):
        value = 1.0 / (step + 1)
        client.log_metric(run_id, "loss", value, timestamp=base + step * 10, step=step)
        expected.append((step, base + step * 10, value))
    # Two values at the same step: both are kept in the history.
    client.log_metric(run_id, "loss", 0.0001, timestamp=base + 10_000, step=49)
    expected.append((49, base + 10_000, 0.0001))

    history = client.get_metric_history(run_id, "loss")
    assert all(m.key == "loss" for m in history)
    got = sorted((m.step, m.timestamp, m.value) for m in history)
    assert got == sorted(expected)
    assert client.get_run(run_id).data.metrics == {"loss": 0.0001}


def test_latest_metric_prefers_step_then_timestamp(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_metric(run_id, "m", 1.0, timestamp=1000, step=0)
    client.log_metric(run_id, "m", 3.0, timestamp=500, step=2)  # highest step, oldest time
    client.log_metric(run_id, "m", 2.0, timestamp=2000, step=1)
    assert client.get_run(run_id).data.metrics == {"m": 3.0}

    client.log_metric(run_id, "t", 5.0, timestamp=2000, step=0)
    client.log_metric(run_id, "t", 4.0, timestamp=1000, step=0)
    assert client.get_run(run_id).data.metrics["t"] == 5.0


def test_metric_special_values(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_metric(run_id, "nan", float("nan"), step=0)
    client.log_metric(run_id, "neg", -1.5e-300, step=0)
    client.log_metric(run_id, "big", 1.2345678901234567e300, step=0)
    client.log_metric(run_id, "int", 7, step=0)
    metrics = client.get_run(run_id).data.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["neg"] == -1.5e-300
    assert metrics["big"] == 1.2345678901234567e300
    assert metrics["int"] == 7.0
    assert math.isnan(client.get_metric_history(run_id, "nan")[0].value)


def test_log_batch_roundtrip(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric("acc", 0.5, now, 0), Metric("acc", 0.75, now + 1, 1), Metric("f1", 0.6, now, 0)],
        params=[Param("p1", "a"), Param("p2", "b")],
        tags=[RunTag("t1", "x"), RunTag("t2", "y")],
    )
    run = client.get_run(run_id)
    assert run.data.metrics == {"acc": 0.75, "f1": 0.6}
    assert run.data.params == {"p1": "a", "p2": "b"}
    assert user_tags(run.data.tags) == {"t1": "x", "t2": "y"}
    assert sorted((m.step, m.value) for m in client.get_metric_history(run_id, "acc")) == [
        (0, 0.5),
        (1, 0.75),
    ]


def _metrics(n, now):
    return [Metric(f"m{i}", float(i), now, 0) for i in range(n)]


def test_log_batch_at_limits_succeeds(client, experiment_id):
    store = rest_store(client)  # one HTTP request per call: no client-side splitting
    now = int(time.time() * 1000)

    run_id = client.create_run(experiment_id).info.run_id
    store.log_batch(run_id, metrics=_metrics(1000, now), params=[], tags=[])
    assert client.get_run(run_id).data.metrics == {f"m{i}": float(i) for i in range(1000)}

    run_id = client.create_run(experiment_id).info.run_id
    store.log_batch(run_id, metrics=[], params=[Param(f"p{i}", str(i)) for i in range(100)], tags=[])
    assert client.get_run(run_id).data.params == {f"p{i}": str(i) for i in range(100)}

    run_id = client.create_run(experiment_id).info.run_id
    store.log_batch(run_id, metrics=[], params=[], tags=[RunTag(f"t{i}", str(i)) for i in range(100)])
    assert user_tags(client.get_run(run_id).data.tags) == {f"t{i}": str(i) for i in range(100)}

    # 800 + 100 + 100 = 1000 entities in total is still allowed.
    run_id = client.create_run(experiment_id).info.run_id
    store.log_batch(
        run_id,
        metrics=_metrics(800, now),
        params=[Param(f"p{i}", "v") for i in range(100)],
        tags=[RunTag(f"t{i}", "v") for i in range(100)],
    )
    run = client.get_run(run_id)
    assert len(run.data.metrics) == 800 and len(run.data.params) == 100
    assert len(user_tags(run.data.tags)) == 100


@pytest.mark.parametrize(
    "what",
    ["metrics", "params", "tags", "total"],
)
def test_log_batch_over_limits_rejected(client, experiment_id, what):
    store = rest_store(client)
    now = int(time.time() * 1000)
    run_id = client.create_run(experiment_id).info.run_id
    kwargs = {"metrics": [], "params": [], "tags": []}
    if what == "metrics":
        kwargs["metrics"] = _metrics(1001, now)
    elif what == "params":
        kwargs["params"] = [Param(f"p{i}", "v") for i in range(101)]
    elif what == "tags":
        kwargs["tags"] = [RunTag(f"t{i}", "v") for i in range(101)]
    else:
        kwargs["metrics"] = _metrics(801, now)
        kwargs["params"] = [Param(f"p{i}", "v") for i in range(100)]
        kwargs["tags"] = [RunTag(f"t{i}", "v") for i in range(100)]
    with pytest.raises(MlflowException) as e:
        store.log_batch(run_id, **kwargs)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    # Nothing of a rejected batch is stored.
    run = client.get_run(run_id)
    assert run.data.metrics == {}
    assert run.data.params == {}
    assert user_tags(run.data.tags) == {}


def test_client_log_batch_splits_large_batches(client, experiment_id):
    # The public client splits into requests within the limits; all of it must land.
    run_id = client.create_run(experiment_id).info.run_id
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=_metrics(2500, now),
        params=[Param(f"p{i}", "v") for i in range(250)],
        tags=[RunTag(f"t{i}", "v") for i in range(250)],
    )
    run = client.get_run(run_id)
    assert len(run.data.metrics) == 2500
    assert len(run.data.params) == 250
    assert len(user_tags(run.data.tags)) == 250


def test_tags_set_and_delete(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.set_tag(run_id, "owner", "alice")
    client.set_tag(run_id, "stage", "dev")
    client.set_tag(run_id, "owner", "bob")  # tags may be overwritten, unlike params
    assert user_tags(client.get_run(run_id).data.tags) == {"owner": "bob", "stage": "dev"}
    client.delete_tag(run_id, "owner")
    assert user_tags(client.get_run(run_id).data.tags) == {"stage": "dev"}
    with pytest.raises(MlflowException) as e:
        client.delete_tag(run_id, "owner")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_write_to_deleted_run_rejected(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.delete_run(run_id)
    with pytest.raises(MlflowException) as e:
        client.log_metric(run_id, "x", 1.0)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"


def test_get_missing_run(client):
    with pytest.raises(MlflowException) as e:
        client.get_run("0" * 32)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
