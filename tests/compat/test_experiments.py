"""Experiments: create / get / get-by-name / search / rename / delete / restore / tags."""

from __future__ import annotations

import pytest
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from conftest import MLFLOW_MAJOR


def test_create_and_get(client, unique):
    name = f"exp-create-{unique}"
    exp_id = client.create_experiment(name, tags={"team": "ferry", "stage": "dev"})
    assert isinstance(exp_id, str) and exp_id

    exp = client.get_experiment(exp_id)
    assert exp.experiment_id == exp_id
    assert exp.name == name
    assert exp.lifecycle_stage == "active"
    assert exp.tags == {"team": "ferry", "stage": "dev"}
    # The server proxies artifacts, so new experiments point at the proxy scheme.
    assert exp.artifact_location == f"mlflow-artifacts:/{exp_id}"
    assert exp.creation_time > 0
    assert exp.last_update_time >= exp.creation_time

    by_name = client.get_experiment_by_name(name)
    assert by_name.experiment_id == exp_id
    assert by_name.name == name
    assert by_name.tags == exp.tags


def test_default_experiment_exists(client):
    exp = client.get_experiment("0")
    assert exp.name == "Default"
    assert exp.lifecycle_stage == "active"


def test_get_by_name_missing_is_none(client, unique):
    assert client.get_experiment_by_name(f"no-such-experiment-{unique}") is None


def test_get_missing_raises(client):
    with pytest.raises(MlflowException) as e:
        client.get_experiment("987654321")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_duplicate_name_rejected(client, unique):
    name = f"exp-dup-{unique}"
    client.create_experiment(name)
    with pytest.raises(MlflowException) as e:
        client.create_experiment(name)
    assert e.value.error_code == "RESOURCE_ALREADY_EXISTS"


def test_explicit_artifact_location_kept(client, unique):
    exp_id = client.create_experiment(
        f"exp-loc-{unique}", artifact_location=f"mlflow-artifacts:/custom/{unique}"
    )
    assert client.get_experiment(exp_id).artifact_location == f"mlflow-artifacts:/custom/{unique}"


def test_rename(client, unique):
    exp_id = client.create_experiment(f"exp-old-{unique}")
    client.rename_experiment(exp_id, f"exp-new-{unique}")
    assert client.get_experiment(exp_id).name == f"exp-new-{unique}"
    assert client.get_experiment_by_name(f"exp-old-{unique}") is None
    assert client.get_experiment_by_name(f"exp-new-{unique}").experiment_id == exp_id


def test_delete_and_restore(client, unique):
    name = f"exp-del-{unique}"
    exp_id = client.create_experiment(name)
    client.delete_experiment(exp_id)
    exp = client.get_experiment(exp_id)
    assert exp.lifecycle_stage == "deleted"
    # A deleted experiment is still found by name, and still holds the name.
    assert client.get_experiment_by_name(name).lifecycle_stage == "deleted"
    with pytest.raises(MlflowException) as e:
        client.create_experiment(name)
    assert e.value.error_code == "RESOURCE_ALREADY_EXISTS"

    flt = f"name = '{name}'"
    assert [x.experiment_id for x in client.search_experiments(filter_string=flt)] == []
    assert [
        x.experiment_id
        for x in client.search_experiments(view_type=ViewType.DELETED_ONLY, filter_string=flt)
    ] == [exp_id]
    assert [
        x.experiment_id for x in client.search_experiments(view_type=ViewType.ALL, filter_string=flt)
    ] == [exp_id]

    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"
    assert [x.experiment_id for x in client.search_experiments(filter_string=flt)] == [exp_id]


def test_tags_set_overwrite_delete(client, unique):
    exp_id = client.create_experiment(f"exp-tags-{unique}", tags={"a": "1"})
    client.set_experiment_tag(exp_id, "b", "2")
    client.set_experiment_tag(exp_id, "a", "one")
    assert client.get_experiment(exp_id).tags == {"a": "one", "b": "2"}
    if MLFLOW_MAJOR >= 3:
        client.delete_experiment_tag(exp_id, "a")
        assert client.get_experiment(exp_id).tags == {"b": "2"}


def test_search_filter_order_and_paging(client, unique):
    prefix = f"srch-{unique}-"
    ids = {}
    for i, (letter, team) in enumerate(
        [("a", "red"), ("b", "blue"), ("c", "red"), ("d", "red"), ("e", "blue")]
    ):
        ids[letter] = client.create_experiment(prefix + letter, tags={"team": team, "idx": str(i)})

    def names(result):
        return [x.name[len(prefix):] for x in result]

    got = client.search_experiments(filter_string=f"name LIKE '{prefix}%'", order_by=["name DESC"])
    assert names(got) == ["e", "d", "c", "b", "a"]

    got = client.search_experiments(
        filter_string=f"name LIKE '{prefix}%' AND tags.team = 'red'", order_by=["name ASC"]
    )
    assert names(got) == ["a", "c", "d"]

    got = client.search_experiments(
        filter_string=f"name ILIKE '{prefix.upper()}%' AND tags.team != 'red'",
        order_by=["name ASC"],
    )
    assert names(got) == ["b", "e"]

    # creation_time ties are possible within a millisecond; the id breaks them in creation order.
    got = client.search_experiments(
        filter_string=f"name LIKE '{prefix}%'",
        order_by=["creation_time ASC", "experiment_id ASC"],
    )
    assert [x.experiment_id for x in got] == sorted(ids.values(), key=int)

    page1 = client.search_experiments(
        filter_string=f"name LIKE '{prefix}%'", order_by=["name ASC"], max_results=2
    )
    assert names(page1) == ["a", "b"]
    assert page1.token
    page2 = client.search_experiments(
        filter_string=f"name LIKE '{prefix}%'",
        order_by=["name ASC"],
        max_results=2,
        page_token=page1.token,
    )
    assert names(page2) == ["c", "d"]
    page3 = client.search_experiments(
        filter_string=f"name LIKE '{prefix}%'",
        order_by=["name ASC"],
        max_results=2,
        page_token=page2.token,
    )
    assert names(page3) == ["e"]
    assert not page3.token


def test_search_bad_filter_is_invalid_parameter(client):
    with pytest.raises(MlflowException) as e:
        client.search_experiments(filter_string="name === 'x'")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
