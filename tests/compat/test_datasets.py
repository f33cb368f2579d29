"""Dataset inputs: mlflow.log_input with pandas datasets."""

from __future__ import annotations

import json

import mlflow
import mlflow.data
import numpy as np
import pandas as pd


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": rng.normal(50_000, 10_000, n).round(2),
            "city": rng.choice(["oslo", "lima", "pune"], n),
            "label": rng.integers(0, 2, n),
        }
    )


def test_log_input_pandas(client, experiment_id, tmp_path):
    train = mlflow.data.from_pandas(
        _frame(200, 1), source=str(tmp_path / "train.csv"), name="customers-train", targets="label"
    )
    evaluation = mlflow.data.from_pandas(
        _frame(50, 2), source=str(tmp_path / "eval.csv"), name="customers-eval", targets="label"
    )
    with mlflow.start_run() as run:
        mlflow.log_input(train, context="training")
        mlflow.log_input(evaluation, context="evaluation")
        mlflow.log_input(train, context="training")  # same dataset + context again: no duplicate

    inputs = sorted(client.get_run(run.info.run_id).inputs.dataset_inputs, key=lambda d: d.dataset.name)
    assert [d.dataset.name for d in inputs] == ["customers-eval", "customers-train"]
    for got, want, context in ((inputs[0], evaluation, "evaluation"), (inputs[1], train, "training")):
        ds = got.dataset
        assert ds.digest == want.digest
        assert ds.source_type == "local"
        assert json.loads(ds.source) == {"uri": want.source.uri}
        assert json.loads(ds.schema) == json.loads(want.to_dict()["schema"])
        assert json.loads(ds.profile) == json.loads(want.to_dict()["profile"])
        assert [(t.key, t.value) for t in got.tags] == [("mlflow.data.context", context)]

    schema = json.loads(inputs[1].dataset.schema)["mlflow_colspec"]
    assert [(c["name"], c["type"]) for c in schema] == [
        ("age", "long"),
        ("income", "double"),
        ("city", "string"),
        ("label", "long"),
    ]


def test_same_dataset_in_two_runs(client, experiment_id, tmp_path):
    ds = mlflow.data.from_pandas(_frame(10, 3), source=str(tmp_path / "d.csv"), name="shared")
    run_ids = []
    for _ in range(2):
        with mlflow.start_run() as run:
            mlflow.log_input(ds, context="training")
        run_ids.append(run.info.run_id)
    for run_id in run_ids:
        [inp] = client.get_run(run_id).inputs.dataset_inputs
        assert (inp.dataset.name, inp.dataset.digest) == ("shared", ds.digest)

    found = client.search_runs(
        [experiment_id], filter_string=f"datasets.digest = '{ds.digest}' AND datasets.name = 'shared'"
    )
    assert {r.info.run_id for r in found} == set(run_ids)
    # search_runs returns the inputs too.
    assert all(r.inputs.dataset_inputs[0].dataset.name == "shared" for r in found)
