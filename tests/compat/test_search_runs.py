"""search_runs: filters on metrics/params/tags/attributes/datasets, ordering, paging, view types."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.entities import Dataset, DatasetInput, InputTag, ViewType
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

N = 25
BASE_TIME = 1_650_000_000_000


class Corpus:
    """25 runs whose every attribute is a function of its index i."""

    def __init__(self, client: MlflowClient, name: str):
        self.experiment_id = client.create_experiment(name)
        self.ids: list[str] = []
        self.train = Dataset(
            name="ds-train",
            digest="d1g35t01",
            source_type="local",
            source='{"uri": "/data/train.csv"}',
            schema='{"mlflow_colspec": [{"type": "double", "name": "f", "required": true}]}',
            profile='{"num_rows": 100}',
        )
        self.eval = Dataset(
            name="ds-eval",
            digest="d1g35t02",
            source_type="local",
            source='{"uri": "/data/eval.csv"}',
        )
        for i in range(N):
            run = client.create_run(
                self.experiment_id,
                start_time=BASE_TIME + i * 1000,
                run_name=f"r-{i:02d}",
                tags={"parity": "even" if i % 2 == 0 else "odd"},
            )
            run_id = run.info.run_id
            self.ids.append(run_id)
            client.log_metric(run_id, "x", float(i), timestamp=BASE_TIME, step=0)
            client.log_metric(run_id, "loss", 1.0 / (i + 1), timestamp=BASE_TIME, step=0)
            client.log_param(run_id, "y", "a" if i % 3 == 0 else "b")
            client.log_param(run_id, "i", str(i))
            inputs = []
            if i < 10:
                inputs.append(DatasetInput(self.train, [InputTag("mlflow.data.context", "training")]))
            if 5 <= i < 15:
                inputs.append(DatasetInput(self.eval, [InputTag("mlflow.data.context", "eval")]))
            if inputs:
                client.log_inputs(run_id, inputs)
            client.set_terminated(
                run_id, status="FAILED" if i % 5 == 0 else "FINISHED", end_time=BASE_TIME + i * 1000 + 500
            )

    def idx(self, indices) -> set[str]:
        return {self.ids[i] for i in indices}


@pytest.fixture(scope="module")
def corpus(server):
    import uuid

    return Corpus(MlflowClient(server.tracking_uri), f"search-corpus-{uuid.uuid4().hex[:8]}")


def _search(client, corpus, flt, **kw):
    return client.search_runs([corpus.experiment_id], filter_string=flt, **kw)


@pytest.mark.parametrize(
    "flt, expected",
    [
        ("", range(N)),
        ("metrics.x >= 20", range(20, 25)),
        ("metrics.x > 3 AND metrics.x < 7", [4, 5, 6]),
        ("metrics.x = 7", [7]),
        ("metrics.x != 7", [i for i in range(N) if i != 7]),
        ("metrics.loss <= 0.1", range(9, 25)),
        ("params.y = 'a'", [i for i in range(N) if i % 3 == 0]),
        ("params.y != 'a'", [i for i in range(N) if i % 3 != 0]),
        ("params.i LIKE '1%'", [1, *range(10, 20)]),
        ("params.i ILIKE '%3'", [3, 13, 23]),
        ("tags.parity = 'odd'", range(1, N, 2)),
        ("tags.parity LIKE 'ev%'", range(0, N, 2)),
        ("attributes.status = 'FAILED'", range(0, N, 5)),
        ("attributes.status != 'FAILED'", [i for i in range(N) if i % 5]),
        ("attributes.run_name = 'r-07'", [7]),
        ("attributes.run_name LIKE 'r-1%'", range(10, 20)),
        (f"attributes.start_time >= {BASE_TIME + 20_000}", range(20, 25)),
        (f"attributes.end_time < {BASE_TIME + 2_000}", [0, 1]),
        ("datasets.name = 'ds-train'", range(0, 10)),
        ("datasets.context = 'eval'", range(5, 15)),
        ("datasets.digest = 'd1g35t02'", range(5, 15)),
        ("datasets.name = 'ds-train' AND datasets.context = 'training'", range(0, 10)),
        ("datasets.name IN ('ds-train', 'ds-eval')", range(0, 15)),
        ("metrics.x > 5 AND params.y = 'a' AND tags.parity = 'even'", [6, 12, 18, 24]),
        ("metrics.x > 100", []),
        ("params.nope = 'x'", []),
    ],
)
def test_filters(client, corpus, flt, expected):
    got = {r.info.run_id for r in _search(client, corpus, flt)}
    assert got == corpus.idx(expected)


def test_filter_run_id_in(client, corpus):
    flt = f"attributes.run_id IN ('{corpus.ids[3]}', '{corpus.ids[17]}')"
    assert {r.info.run_id for r in _search(client, corpus, flt)} == corpus.idx([3, 17])


def test_results_carry_data(client, corpus):
    [run] = _search(client, corpus, "attributes.run_name = 'r-09'")
    assert run.data.metrics == {"x": 9.0, "loss": 0.1}
    assert run.data.params == {"y": "a", "i": "9"}
    assert run.data.tags["parity"] == "odd"
    assert run.info.status == "FINISHED"
    assert run.info.start_time == BASE_TIME + 9000
    assert run.info.end_time == BASE_TIME + 9500
    assert sorted(d.dataset.name for d in run.inputs.dataset_inputs) == ["ds-eval", "ds-train"]


@pytest.mark.parametrize(
    "order_by, expected",
    [
        (["metrics.x DESC"], list(range(N - 1, -1, -1))),
        (["metrics.x ASC"], list(range(N))),
        (["metrics.loss ASC"], list(range(N - 1, -1, -1))),
        (["params.i ASC"], sorted(range(N), key=str)),
        (["attributes.start_time ASC"], list(range(N))),
        (["start_time DESC"], list(range(N - 1, -1, -1))),
        (["attributes.run_name DESC"], list(range(N - 1, -1, -1))),
        (["params.y ASC", "metrics.x DESC"],
         sorted(range(N), key=lambda i: ("a" if i % 3 == 0 else "b", -i))),
        (["tags.parity ASC", "metrics.x ASC"], sorted(range(N), key=lambda i: (i % 2, i))),
    ],
)
def test_order_by(client, corpus, order_by, expected):
    got = [r.info.run_id for r in _search(client, corpus, "", order_by=order_by)]
    assert got == [corpus.ids[i] for i in expected]


def test_default_order_is_start_time_desc(client, corpus):
    got = [r.info.run_id for r in _search(client, corpus, "")]
    assert got == list(reversed(corpus.ids))


def test_paging(client, corpus):
    pages = []
    token = None
    while True:
        page = _search(client, corpus, "", order_by=["metrics.x ASC"], max_results=10, page_token=token)
        pages.append([r.info.run_id for r in page])
        token = page.token
        if not token:
            break
    assert pages == [corpus.ids[0:10], corpus.ids[10:20], corpus.ids[20:25]]

    filtered = _search(client, corpus, "params.y = 'b'", order_by=["metrics.x DESC"], max_results=7)
    expected = [i for i in range(N - 1, -1, -1) if i % 3 != 0]
    assert [r.info.run_id for r in filtered] == [corpus.ids[i] for i in expected[:7]]
    rest = _search(
        client, corpus, "params.y = 'b'", order_by=["metrics.x DESC"], max_results=100,
        page_token=filtered.token,
    )
    assert [r.info.run_id for r in rest] == [corpus.ids[i] for i in expected[7:]]
    assert not rest.token


def test_fluent_search_runs_dataframe(corpus):
    df = mlflow.search_runs(
        experiment_ids=[corpus.experiment_id],
        filter_string="metrics.x < 3",
        order_by=["metrics.x ASC"],
    )
    assert list(df["run_id"]) == corpus.ids[:3]
    assert list(df["metrics.x"]) == [0.0, 1.0, 2.0]
    assert list(df["params.y"]) == ["a", "b", "b"]
    assert list(df["tags.parity"]) == ["even", "odd", "even"]


def test_missing_metric_sorts_last(client, unique):
    exp_id = client.create_experiment(f"nulls-{unique}")
    ids = [client.create_run(exp_id, start_time=BASE_TIME + i).info.run_id for i in range(3)]
    client.log_metric(ids[0], "m", 1.0)
    client.log_metric(ids[1], "m", 2.0)
    asc = [r.info.run_id for r in client.search_runs([exp_id], order_by=["metrics.m ASC"])]
    desc = [r.info.run_id for r in client.search_runs([exp_id], order_by=["metrics.m DESC"])]
    assert asc == [ids[0], ids[1], ids[2]]
    assert desc == [ids[1], ids[0], ids[2]]


def test_multiple_experiments(client, unique):
    e1 = client.create_experiment(f"multi-a-{unique}")
    e2 = client.create_experiment(f"multi-b-{unique}")
    r1 = client.create_run(e1).info.run_id
    r2 = client.create_run(e2).info.run_id
    client.log_metric(r1, "k", 1.0)
    client.log_metric(r2, "k", 2.0)
    got = client.search_runs([e1, e2], order_by=["metrics.k DESC"])
    assert [r.info.run_id for r in got] == [r2, r1]


def test_delete_restore_and_view_types(client, unique):
    exp_id = client.create_experiment(f"views-{unique}")
    ids = [client.create_run(exp_id, start_time=BASE_TIME + i).info.run_id for i in range(4)]
    client.delete_run(ids[0])
    client.delete_run(ids[2])

    def search(view):
        return {r.info.run_id for r in client.search_runs([exp_id], run_view_type=view)}

    assert search(ViewType.ACTIVE_ONLY) == {ids[1], ids[3]}
    assert search(ViewType.DELETED_ONLY) == {ids[0], ids[2]}
    assert search(ViewType.ALL) == set(ids)
    deleted = client.get_run(ids[0])
    assert deleted.info.lifecycle_stage == "deleted"

    client.restore_run(ids[0])
    assert client.get_run(ids[0]).info.lifecycle_stage == "active"
    assert search(ViewType.ACTIVE_ONLY) == {ids[0], ids[1], ids[3]}
    assert search(ViewType.DELETED_ONLY) == {ids[2]}


def test_invalid_filter_rejected(client, corpus):
    with pytest.raises(MlflowException) as e:
        _search(client, corpus, "metrics.x >>> 1")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as e:
        _search(client, corpus, "", order_by=["metrics.x SIDEWAYS"])
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
