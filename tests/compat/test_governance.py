"""Ferry's governance API on top of the model registry (Ferry only).

- promotion policies: POST/GET /api/2.0/ferry/registered-models/policy/{set,get,delete}
- approvals: POST /api/2.0/ferry/model-versions/approve, GET .../approvals
- gates enforced on the *normal* MLflow API: moving a protected alias
  (client.set_registered_model_alias) or entering a protected stage
  (client.transition_model_version_stage) fails with PERMISSION_DENIED
  listing every failed condition, and nothing moves
- forced moves: POST /api/2.0/ferry/registered-models/alias/force (audited)
- hash-chained audit log: GET /api/2.0/ferry/audit/log, /audit/verify, and
  tampering with the SQLite file is detected (edited, deleted, truncated)
- lineage (GET /api/2.0/ferry/lineage?uri=models:/...) and model cards
- the `ferry models|audit|lineage` CLI commands

The actor of every change is the X-Ferry-User request header ("unknown"
without it); the audit log echoes the X-Request-Id the client sent. Tests
that tamper with the database use their own server (`private_server`).
"""

from __future__ import annotations

import http.client
import json
import re
import sqlite3
import subprocess
import urllib.parse
import warnings
from dataclasses import dataclass

import mlflow
import mlflow.data
import mlflow.sklearn
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LogisticRegression

from conftest import MLFLOW_MAJOR, ferry_only
from servers import ferry_bin, make_server

pytestmark = ferry_only

FERRY = "/api/2.0/ferry"
MLFLOW = "/api/2.0/mlflow"

POLICY = {
    "protected_aliases": ["champion"],
    "protected_stages": ["Production"],
    "conditions": ["auc >= 0.80", "auc >= champion.auc - 0.005"],
    "required_tags": {"validation_status": "passed"},
    "required_approvals": 1,
}
EMPTY_POLICY = {
    "protected_aliases": [],
    "protected_stages": [],
    "conditions": [],
    "required_tags": {},
    "required_approvals": 0,
}
ENTRY_KEYS = {
    "seq", "timestamp", "actor", "action", "object_type", "object_id",
    "before", "after", "request_id", "prev_hash", "hash",
}


# ---------------------------------------------------------------------------
# helpers


@dataclass
class Resp:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


def call(srv, method, path, body=None, *, query=None, user=None, request_id=None) -> Resp:
    """One HTTP request straight to the server (not through the recording proxy)."""
    target = path + ("?" + urllib.parse.urlencode(query) if query else "")
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if user is not None:
        headers["X-Ferry-User"] = user
    if request_id is not None:
        headers["X-Request-Id"] = request_id
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    try:
        conn.request(method, target, body=data, headers=headers)
        resp = conn.getresponse()
        return Resp(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def ok(resp: Resp) -> dict:
    assert resp.status == 200, (resp.status, resp.body[:2000])
    return resp.json() if resp.body.strip() else {}


def assert_error(resp: Resp, status: int, code: str) -> dict:
    assert resp.status == status, (resp.status, resp.body[:2000])
    doc = resp.json()
    assert doc["error_code"] == code, doc
    assert isinstance(doc["message"], str) and doc["message"]
    return doc


def set_policy(srv, name, policy, **kw) -> Resp:
    return call(srv, "POST", f"{FERRY}/registered-models/policy/set", {"name": name, "policy": policy}, **kw)


def get_policy(srv, name) -> Resp:
    return call(srv, "GET", f"{FERRY}/registered-models/policy/get", query={"name": name})


def approve(srv, name, version, target, comment="", user="alice", **kw) -> Resp:
    body = {"name": name, "version": str(version), "target": target, "comment": comment}
    return call(srv, "POST", f"{FERRY}/model-versions/approve", body, user=user, **kw)


def approvals(srv, name, version) -> list:
    return ok(call(srv, "GET", f"{FERRY}/model-versions/approvals",
                   query={"name": name, "version": str(version)}))["approvals"]


def audit_log(srv, obj=None) -> list:
    query = {"object": obj} if obj is not None else None
    return ok(call(srv, "GET", f"{FERRY}/audit/log", query=query))["entries"]


def verify(srv) -> dict:
    return ok(call(srv, "GET", f"{FERRY}/audit/verify"))


def new_version(client: MlflowClient, experiment_id, name, *, auc, tags=None) -> str:
    """A new version of `name` whose source run logged `auc`; the run's
    `model/` artifact path exists (a stub MLmodel) so the source is real."""
    run = client.create_run(experiment_id)
    run_id = run.info.run_id
    client.log_metric(run_id, "auc", auc)
    client.log_text(run_id, "flavors: {}\n", "model/MLmodel")
    client.set_terminated(run_id)
    return client.create_model_version(
        name, f"{run.info.artifact_uri}/model", run_id, tags=tags or {}
    ).version


def champion(client, name) -> str | None:
    return client.get_registered_model(name).aliases.get("champion")


def transition(client, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stages are deprecated since MLflow 2.9
        return client.transition_model_version_stage(*args, **kwargs)


def ferry(*args, uri, check=True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(ferry_bin()), *args, "--tracking-uri", uri],
                          capture_output=True, text=True, timeout=60)
    if check:
        assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    return proc


@pytest.fixture
def private_server(tmp_path):
    """A server of its own, for tests that tamper with its database."""
    srv = make_server(tmp_path / "private")
    srv.start()
    srv.tracking_uri = srv.url
    yield srv
    srv.stop()


# ---------------------------------------------------------------------------
# policies


def test_policy_set_get_delete(server, client, unique):
    name = f"pol-{unique}"
    client.create_registered_model(name)

    assert_error(get_policy(server, name), 404, "RESOURCE_DOES_NOT_EXIST")

    assert ok(set_policy(server, name, POLICY)) == {"policy": POLICY}
    assert ok(get_policy(server, name)) == {"policy": POLICY}

    # Set replaces the whole policy; absent fields are the defaults; stage
    # names are canonicalised.
    partial = {"protected_stages": ["production"], "required_approvals": 2}
    want = dict(EMPTY_POLICY, protected_stages=["Production"], required_approvals=2)
    assert ok(set_policy(server, name, partial)) == {"policy": want}
    assert ok(get_policy(server, name)) == {"policy": want}

    ok(call(server, "POST", f"{FERRY}/registered-models/policy/delete", {"name": name}))
    assert_error(get_policy(server, name), 404, "RESOURCE_DOES_NOT_EXIST")

    # A policy follows its model through a rename.
    ok(set_policy(server, name, POLICY))
    client.rename_registered_model(name, name + "-renamed")
    assert ok(get_policy(server, name + "-renamed")) == {"policy": POLICY}


@pytest.mark.parametrize(
    "policy",
    [
        pytest.param({"conditions": ["auc >>= 0.8"]}, id="bad-operator"),
        pytest.param({"conditions": ["auc >= high"]}, id="not-a-number"),
        pytest.param({"conditions": [""]}, id="empty-condition"),
        pytest.param({"protected_stages": ["Bogus"]}, id="unknown-stage"),
        pytest.param({"protected_aliases": ["bad alias!"]}, id="bad-alias"),
        pytest.param({"required_approvals": -1}, id="negative-approvals"),
        pytest.param({"required_approvals": 101}, id="too-many-approvals"),
        pytest.param({"required_approvals": "1"}, id="approvals-not-int"),
        pytest.param({"conditions": "auc >= 0.8"}, id="conditions-not-list"),
        pytest.param({"unknown_field": True}, id="unknown-field"),
        # A comparison with a holder needs that holder to be protected.
        pytest.param({"conditions": ["auc >= champion.auc"]}, id="unprotected-holder"),
    ],
)
def test_policy_invalid(server, client, unique, policy):
    name = f"polbad-{unique}"
    client.create_registered_model(name)
    assert_error(set_policy(server, name, policy), 400, "INVALID_PARAMETER_VALUE")
    assert_error(get_policy(server, name), 404, "RESOURCE_DOES_NOT_EXIST")


def test_policy_missing_model(server, unique):
    assert_error(set_policy(server, f"nope-{unique}", POLICY), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(get_policy(server, f"nope-{unique}"), 404, "RESOURCE_DOES_NOT_EXIST")
    resp = call(server, "POST", f"{FERRY}/registered-models/policy/set", {"policy": POLICY})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")


# ---------------------------------------------------------------------------
# gates on the normal MLflow API


def test_protected_alias_rejected_then_allowed(server, client, experiment_id, unique):
    name = f"gate-{unique}"
    client.create_registered_model(name)
    v1 = new_version(client, experiment_id, name, auc=0.90, tags={"validation_status": "passed"})
    client.set_registered_model_alias(name, "champion", v1)  # no policy yet: free
    ok(set_policy(server, name, POLICY))

    # Version 2 fails every gate: both conditions, the tag, the approval.
    v2 = new_version(client, experiment_id, name, auc=0.70)
    with pytest.raises(MlflowException) as e:
        client.set_registered_model_alias(name, "champion", v2)
    assert e.value.error_code == "PERMISSION_DENIED"
    message = e.value.message
    for condition in POLICY["conditions"]:
        assert condition in message, message
    assert "validation_status" in message
    assert "approval" in message.lower()
    assert champion(client, name) == v1
    assert client.get_model_version_by_alias(name, "champion").version == v1

    # The same refusal on the wire: 403 in MLflow's error shape.
    resp = call(server, "POST", f"{MLFLOW}/registered-models/alias",
                {"name": name, "alias": "champion", "version": v2})
    assert_error(resp, 403, "PERMISSION_DENIED")
    assert champion(client, name) == v1

    # Aliases the policy does not protect move freely.
    client.set_registered_model_alias(name, "challenger", v2)
    assert client.get_registered_model(name).aliases == {"champion": v1, "challenger": v2}

    # Version 3 passes every gate.
    v3 = new_version(client, experiment_id, name, auc=0.93, tags={"validation_status": "passed"})
    ok(approve(server, name, v3, "alias:champion", "validated offline", user="alice"))
    client.set_registered_model_alias(name, "champion", v3)
    assert champion(client, name) == v3
    assert client.get_model_version(name, v3).aliases == ["champion"]


def test_required_tag_on_version_set_later(server, client, experiment_id, unique):
    name = f"gatetag-{unique}"
    client.create_registered_model(name)
    ok(set_policy(server, name, dict(EMPTY_POLICY, protected_aliases=["champion"],
                                     required_tags={"validation_status": "passed"})))
    v1 = new_version(client, experiment_id, name, auc=0.9)
    client.set_model_version_tag(name, v1, "validation_status", "failed")  # wrong value
    with pytest.raises(MlflowException) as e:
        client.set_registered_model_alias(name, "champion", v1)
    assert e.value.error_code == "PERMISSION_DENIED"
    assert "validation_status" in e.value.message
    assert champion(client, name) is None
    client.set_model_version_tag(name, v1, "validation_status", "passed")
    client.set_registered_model_alias(name, "champion", v1)
    assert champion(client, name) == v1


def test_champion_relative_condition(server, client, experiment_id, unique):
    name = f"gaterel-{unique}"
    client.create_registered_model(name)
    policy = dict(POLICY, required_approvals=0)
    ok(set_policy(server, name, policy))
    tagged = {"validation_status": "passed"}

    # The first promotion has no champion to compare with: it passes.
    v1 = new_version(client, experiment_id, name, auc=0.95, tags=tagged)
    client.set_registered_model_alias(name, "champion", v1)
    assert champion(client, name) == v1

    # 0.90 clears 0.80 but not 0.95 - 0.005.
    v2 = new_version(client, experiment_id, name, auc=0.90, tags=tagged)
    with pytest.raises(MlflowException) as e:
        client.set_registered_model_alias(name, "champion", v2)
    assert e.value.error_code == "PERMISSION_DENIED"
    assert "auc >= champion.auc - 0.005" in e.value.message
    assert champion(client, name) == v1

    # 0.946 is within the tolerance.
    v3 = new_version(client, experiment_id, name, auc=0.946, tags=tagged)
    client.set_registered_model_alias(name, "champion", v3)
    assert champion(client, name) == v3


def test_approvals(server, client, experiment_id, unique):
    name = f"appr-{unique}"
    client.create_registered_model(name)
    ok(set_policy(server, name, dict(EMPTY_POLICY, protected_aliases=["champion"],
                                     conditions=["auc >= 0.80"], required_approvals=2)))
    v1 = new_version(client, experiment_id, name, auc=0.9)
    v2 = new_version(client, experiment_id, name, auc=0.9)

    doc = ok(approve(server, name, v1, "alias:champion", "looks good", user="alice"))
    a = doc["approval"]
    assert a["name"] == name
    assert str(a["version"]) == v1
    assert a["target"] == "alias:champion"
    assert a["comment"] == "looks good"
    assert a["user"] == "alice"

    def refused():
        with pytest.raises(MlflowException) as e:
            client.set_registered_model_alias(name, "champion", v1)
        assert e.value.error_code == "PERMISSION_DENIED"
        assert "approval" in e.value.message.lower()
        assert champion(client, name) is None

    refused()  # 1 of 2
    ok(approve(server, name, v1, "alias:champion", "again", user="alice"))
    refused()  # the same user counts once
    ok(approve(server, name, v1, "stage:Production", user="bob"))
    refused()  # another target does not count
    ok(approve(server, name, v2, "alias:champion", user="bob"))
    refused()  # another version does not count
    ok(approve(server, name, v1, "alias:champion", "ship it", user="bob"))
    client.set_registered_model_alias(name, "champion", v1)
    assert champion(client, name) == v1

    listed = approvals(server, name, v1)
    assert [(x["user"], x["target"], x["comment"]) for x in listed] == [
        ("alice", "alias:champion", "looks good"),
        ("alice", "alias:champion", "again"),
        ("bob", "stage:Production", ""),
        ("bob", "alias:champion", "ship it"),
    ]
    assert all(x["name"] == name and str(x["version"]) == v1 for x in listed)
    assert [(x["user"], x["target"]) for x in approvals(server, name, v2)] == [
        ("bob", "alias:champion")
    ]


def test_approval_errors(server, client, experiment_id, unique):
    name = f"apprerr-{unique}"
    client.create_registered_model(name)
    v1 = new_version(client, experiment_id, name, auc=0.9)
    assert_error(approve(server, name, "99", "alias:champion"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(approve(server, f"nope-{unique}", "1", "alias:champion"), 404,
                 "RESOURCE_DOES_NOT_EXIST")
    assert_error(approve(server, name, v1, "champion"), 400, "INVALID_PARAMETER_VALUE")
    assert_error(approve(server, name, v1, "stage:Bogus"), 400, "INVALID_PARAMETER_VALUE")
    # An approval needs an identified approver.
    resp = call(server, "POST", f"{FERRY}/model-versions/approve",
                {"name": name, "version": v1, "target": "alias:champion", "comment": ""})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert approvals(server, name, v1) == []


def test_protected_stage(server, client, experiment_id, unique):
    name = f"stage-{unique}"
    client.create_registered_model(name)
    ok(set_policy(server, name, POLICY))
    v1 = new_version(client, experiment_id, name, auc=0.70)

    with pytest.raises(MlflowException) as e:
        transition(client, name, v1, "Production")
    assert e.value.error_code == "PERMISSION_DENIED"
    message = e.value.message
    assert "auc >= 0.80" in message
    assert "validation_status" in message
    assert "approval" in message.lower()
    assert client.get_model_version(name, v1).current_stage == "None"
    with pytest.raises(MlflowException) as e:
        transition(client, name, v1, "production")  # any casing
    assert e.value.error_code == "PERMISSION_DENIED"

    # Unprotected stages are free.
    assert transition(client, name, v1, "Staging").current_stage == "Staging"

    v2 = new_version(client, experiment_id, name, auc=0.91, tags={"validation_status": "passed"})
    ok(approve(server, name, v2, "alias:champion", user="carol"))
    with pytest.raises(MlflowException) as e:  # an alias approval is not a stage approval
        transition(client, name, v2, "Production")
    assert e.value.error_code == "PERMISSION_DENIED"
    ok(approve(server, name, v2, "stage:Production", user="carol"))
    assert transition(client, name, v2, "Production").current_stage == "Production"
    assert client.get_model_version(name, v2).current_stage == "Production"
    assert client.get_model_version(name, v1).current_stage == "Staging"


def test_force_alias(server, client, experiment_id, unique):
    name = f"force-{unique}"
    client.create_registered_model(name)
    v1 = new_version(client, experiment_id, name, auc=0.9, tags={"validation_status": "passed"})
    client.set_registered_model_alias(name, "champion", v1)
    ok(set_policy(server, name, POLICY))
    v2 = new_version(client, experiment_id, name, auc=0.5)
    with pytest.raises(MlflowException):
        client.set_registered_model_alias(name, "champion", v2)

    force = f"{FERRY}/registered-models/alias/force"
    # A forced move must say why.
    assert_error(call(server, "POST", force, {"name": name, "alias": "champion", "version": v2},
                      user="oncall"), 400, "INVALID_PARAMETER_VALUE")
    assert_error(call(server, "POST", force, {"name": name, "alias": "champion", "version": v2,
                                              "reason": ""}, user="oncall"),
                 400, "INVALID_PARAMETER_VALUE")
    assert champion(client, name) == v1
    assert_error(call(server, "POST", force, {"name": name, "alias": "champion", "version": "99",
                                              "reason": "x"}, user="oncall"),
                 404, "RESOURCE_DOES_NOT_EXIST")

    reason = "hotfix INC-4242: v1 leaks PII"
    rid = f"force-{unique}"
    ok(call(server, "POST", force,
            {"name": name, "alias": "champion", "version": v2, "reason": reason},
            user="oncall", request_id=rid))
    assert champion(client, name) == v2

    forced = [e for e in audit_log(server, name) if e["action"] == "alias.set.force"]
    assert len(forced) == 1
    entry = forced[0]
    assert entry["actor"] == "oncall"
    assert entry["request_id"] == rid
    assert entry["object_type"] == "alias"
    assert entry["object_id"] == f"{name}@champion"
    assert str(entry["before"]["version"]) == v1
    assert str(entry["after"]["version"]) == v2
    assert entry["after"]["reason"] == reason


# ---------------------------------------------------------------------------
# audit log


def test_audit_log_records_every_change(server, client, experiment_id, unique):
    name, renamed = f"audit-{unique}", f"audit-{unique}-renamed"
    user = f"carol-{unique}"
    run = client.create_run(experiment_id)
    run_id = run.info.run_id
    client.log_metric(run_id, "auc", 0.9)
    client.log_text(run_id, "flavors: {}\n", "model/MLmodel")
    source = f"{run.info.artifact_uri}/model"
    policy = dict(EMPTY_POLICY, protected_stages=["Production"], conditions=["auc >= 0.5"],
                  required_approvals=1)

    steps = [
        ("create", "POST", f"{MLFLOW}/registered-models/create", {"name": name}),
        ("version", "POST", f"{MLFLOW}/model-versions/create",
         {"name": name, "source": source, "run_id": run_id}),
        ("alias", "POST", f"{MLFLOW}/registered-models/alias",
         {"name": name, "alias": "challenger", "version": "1"}),
        ("policy", "POST", f"{FERRY}/registered-models/policy/set", {"name": name, "policy": policy}),
        ("approve", "POST", f"{FERRY}/model-versions/approve",
         {"name": name, "version": "1", "target": "stage:Production", "comment": "lgtm"}),
        ("stage", "POST", f"{MLFLOW}/model-versions/transition-stage",
         {"name": name, "version": "1", "stage": "Production", "archive_existing_versions": False}),
        ("rename", "POST", f"{MLFLOW}/registered-models/rename", {"name": name, "new_name": renamed}),
        ("delete", "DELETE", f"{MLFLOW}/registered-models/delete", {"name": renamed}),
    ]
    rids = {}
    for step, method, path, body in steps:
        rids[step] = f"req-{unique}-{step}"
        resp = call(server, method, path, body, user=user, request_id=rids[step])
        ok(resp)
        assert resp.headers.get("x-request-id") == rids[step], step

    entries = {e["seq"]: e for e in audit_log(server, name) + audit_log(server, renamed)}
    ordered = [entries[s] for s in sorted(entries)]
    for e in ordered:
        assert ENTRY_KEYS <= set(e), e
        assert isinstance(e["seq"], int) and isinstance(e["timestamp"], int)
        assert re.fullmatch(r"[0-9a-f]{64}", e["hash"]), e
    timestamps = [e["timestamp"] for e in ordered]
    assert timestamps == sorted(timestamps)

    def entry(step):
        mine = [e for e in ordered if e["request_id"] == rids[step]]
        assert len(mine) == 1, (step, mine)
        assert mine[0]["actor"] == user, mine[0]
        return mine[0]

    e = entry("create")
    assert (e["action"], e["object_type"], e["object_id"]) == (
        "registered_model.create", "registered_model", name)
    assert e["before"] is None and e["after"]["name"] == name

    e = entry("version")
    assert (e["action"], e["object_type"], e["object_id"]) == (
        "model_version.create", "model_version", f"{name}/1")
    assert e["before"] is None
    assert e["after"]["source"] == source and e["after"]["run_id"] == run_id

    e = entry("alias")
    assert (e["action"], e["object_type"], e["object_id"]) == (
        "alias.set", "alias", f"{name}@challenger")
    assert e["before"] is None and str(e["after"]["version"]) == "1"

    e = entry("policy")
    assert (e["action"], e["object_type"], e["object_id"]) == ("policy.set", "policy", name)
    assert e["before"] is None and e["after"] == policy

    e = entry("approve")
    assert (e["action"], e["object_type"], e["object_id"]) == (
        "approval.add", "approval", f"{name}/1")
    assert e["before"] is None
    assert (e["after"]["target"], e["after"]["user"], e["after"]["comment"]) == (
        "stage:Production", user, "lgtm")

    e = entry("stage")
    assert (e["action"], e["object_type"], e["object_id"]) == (
        "model_version.transition_stage", "model_version", f"{name}/1")
    assert e["before"]["current_stage"] == "None"
    assert e["after"]["current_stage"] == "Production"

    e = entry("rename")
    assert (e["action"], e["object_type"], e["object_id"]) == (
        "registered_model.rename", "registered_model", renamed)
    assert e["before"]["name"] == name and e["after"]["name"] == renamed

    e = entry("delete")
    assert (e["action"], e["object_type"], e["object_id"]) == (
        "registered_model.delete", "registered_model", renamed)
    assert e["before"]["name"] == renamed and e["after"] is None

    # In the order they happened.
    seqs = [entry(step)["seq"] for step, *_ in steps]
    assert seqs == sorted(seqs)

    # A model name also selects its versions and aliases, nothing of other models.
    assert {e["object_id"] for e in audit_log(server, name)} == {
        name, f"{name}/1", f"{name}@challenger"}


def test_audit_default_actor(server, client, unique):
    name = f"anon-{unique}"
    client.create_registered_model(name)  # the mlflow client sends no X-Ferry-User
    ok(call(server, "POST", f"{MLFLOW}/registered-models/set-tag",
            {"name": name, "key": "k", "value": "v"}))
    entries = audit_log(server, name)
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("registered_model.create", "unknown"),
        ("registered_model.set_tag", "unknown"),
    ]
    assert all(isinstance(e["request_id"], str) and e["request_id"] for e in entries)
    assert entries[1]["after"] == {"k": "v"}


def test_audit_verify_ok(server, client, unique):
    client.create_registered_model(f"verify-{unique}")
    doc = verify(server)
    assert doc["ok"] is True
    assert isinstance(doc["entries_checked"], int) and doc["entries_checked"] >= 1


# ---------------------------------------------------------------------------
# tampering (each on a server of its own)


def _populate(srv, unique) -> list:
    """At least 8 audited changes on `srv`; returns the whole log, verified."""
    client = MlflowClient(tracking_uri=srv.url)
    exp = client.create_experiment(f"tamper-{unique}")
    run = client.create_run(exp)
    client.log_metric(run.info.run_id, "auc", 0.9)
    client.log_text(run.info.run_id, "flavors: {}\n", "model/MLmodel")
    name = f"tamper-{unique}"
    h = {"user": "alice"}
    ok(call(srv, "POST", f"{MLFLOW}/registered-models/create", {"name": name}, **h))
    ok(call(srv, "POST", f"{MLFLOW}/model-versions/create",
            {"name": name, "source": f"{run.info.artifact_uri}/model", "run_id": run.info.run_id}, **h))
    ok(set_policy(srv, name, dict(EMPTY_POLICY, protected_aliases=["champion"],
                                  conditions=["auc >= 0.8"], required_approvals=1), **h))
    ok(approve(srv, name, "1", "alias:champion", "ok", user="bob"))
    ok(call(srv, "POST", f"{MLFLOW}/registered-models/alias",
            {"name": name, "alias": "champion", "version": "1"}, **h))
    for i in range(3):
        ok(call(srv, "POST", f"{MLFLOW}/registered-models/set-tag",
                {"name": name, "key": f"k{i}", "value": str(i)}, **h))

    entries = audit_log(srv)
    n = len(entries)
    assert n >= 8
    assert [e["seq"] for e in entries] == list(range(1, n + 1))
    assert entries[0]["prev_hash"] == ""
    for prev, cur in zip(entries, entries[1:]):
        assert cur["prev_hash"] == prev["hash"]
    assert len({e["hash"] for e in entries}) == n
    doc = verify(srv)
    assert doc["ok"] is True and doc["entries_checked"] == n, doc
    return entries


def _sql(srv, statement, *params):
    con = sqlite3.connect(str(srv.db_path), timeout=30)
    try:
        con.execute(statement, params)
        con.commit()
    finally:
        con.close()


def _assert_tampered(doc, first_bad_seq):
    assert doc["ok"] is False, doc
    assert doc["first_bad_seq"] == first_bad_seq, doc
    assert isinstance(doc["problem"], str) and doc["problem"], doc


def test_tamper_edited_entry(private_server, unique):
    srv = private_server
    entries = _populate(srv, unique)
    assert ferry("audit", "verify", uri=srv.url).returncode == 0
    original = entries[2]["actor"]

    _sql(srv, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")  # while it runs
    _assert_tampered(verify(srv), 3)
    proc = ferry("audit", "verify", uri=srv.url, check=False)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert re.search(r"\b3\b", proc.stdout + proc.stderr), (proc.stdout, proc.stderr)

    # Putting the value back restores the chain: the hash covers the content.
    _sql(srv, "UPDATE audit_log SET actor = ? WHERE seq = 3", original)
    assert verify(srv)["ok"] is True


def test_tamper_edited_timestamp(private_server, unique):
    srv = private_server
    entries = _populate(srv, unique)
    seq = next(e["seq"] for e in entries if e["action"] == "alias.set")
    _sql(srv, "UPDATE audit_log SET timestamp = timestamp + 1 WHERE seq = ?", seq)
    _assert_tampered(verify(srv), seq)


def test_tamper_deleted_entry(private_server, unique):
    srv = private_server
    _populate(srv, unique)
    # Offline, as someone with the file would do it; the restart must not hide it.
    assert srv.stop() == 0
    _sql(srv, "DELETE FROM audit_log WHERE seq = 3")
    srv.start()
    _assert_tampered(verify(srv), 3)
    seqs = [e["seq"] for e in audit_log(srv)]
    assert 3 not in seqs and seqs[:2] == [1, 2] and seqs[2] == 4
    proc = ferry("audit", "verify", uri=srv.url, check=False)
    assert proc.returncode == 1


def test_tamper_truncated_tail(private_server, unique):
    srv = private_server
    entries = _populate(srv, unique)
    n = len(entries)
    _sql(srv, "DELETE FROM audit_log WHERE seq > ?", n - 2)
    _assert_tampered(verify(srv), n - 1)
    assert ferry("audit", "verify", uri=srv.url, check=False).returncode == 1


def test_tamper_truncated_everything(private_server, unique):
    srv = private_server
    _populate(srv, unique)
    assert srv.stop() == 0
    _sql(srv, "DELETE FROM audit_log")
    srv.start()
    _assert_tampered(verify(srv), 1)
    assert ferry("audit", "verify", uri=srv.url, check=False).returncode == 1


def test_new_entries_after_tamper_do_not_heal(private_server, unique):
    srv = private_server
    _populate(srv, unique)
    _sql(srv, "UPDATE audit_log SET action = 'registered_model.update' WHERE seq = 3")
    ok(call(srv, "POST", f"{MLFLOW}/registered-models/create", {"name": f"later-{unique}"}))
    _assert_tampered(verify(srv), 3)


# ---------------------------------------------------------------------------
# lineage and model cards


def _lineage_model(client, unique):
    """A registered model whose version 1 (alias champion) comes from a run
    with params, a metric, a pandas dataset input and a logged sklearn model."""
    name = f"lineage-{unique}"
    df = pd.DataFrame({"x1": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
                       "x2": [1.0, 0.0, 1.0, 0.0, 1.0, 0.0],
                       "y": [0, 0, 0, 1, 1, 1]})
    model = LogisticRegression(max_iter=300).fit(df[["x1", "x2"]], df["y"])
    dataset_name = f"credit-train-{unique}"
    with mlflow.start_run(tags={"mlflow.source.name": "train_credit.py"}) as run:
        mlflow.log_params({"alpha": "0.123", "max_iter": "300"})
        mlflow.log_metric("auc", 0.913)
        mlflow.log_input(mlflow.data.from_pandas(df, name=dataset_name, targets="y"),
                         context="training")
        if MLFLOW_MAJOR >= 3:
            mlflow.sklearn.log_model(model, name="model")
        else:
            mlflow.sklearn.log_model(model, artifact_path="model")
    run_id = run.info.run_id
    mv = mlflow.register_model(f"runs:/{run_id}/model", name)
    assert mv.version == "1"
    client.set_registered_model_alias(name, "champion", "1")
    got = client.get_run(run_id)
    (dataset_input,) = got.inputs.dataset_inputs
    return {
        "name": name,
        "run_id": run_id,
        "dataset": (dataset_name, dataset_input.dataset.digest, "training"),
        "source_type": got.data.tags["mlflow.source.type"],
        "requirements": mlflow.artifacts.load_text(f"models:/{name}/1/requirements.txt"),
    }


def test_lineage(server, client, experiment_id, unique):
    m = _lineage_model(client, unique)
    name = m["name"]
    uri = f"models:/{name}@champion"
    doc = ok(call(server, "GET", f"{FERRY}/lineage", query={"uri": uri}))
    lin = doc["lineage"]

    assert lin["model_uri"] == uri
    assert lin["model_version"]["name"] == name
    assert str(lin["model_version"]["version"]) == "1"
    assert lin["model_version"]["aliases"] == ["champion"]
    run = lin["run"]
    assert run["run_id"] == m["run_id"]
    assert run["experiment_id"] == experiment_id
    assert run["params"] == {"alpha": "0.123", "max_iter": "300"}
    assert {x["key"]: x["value"] for x in run["metrics"]} == {"auc": 0.913}
    assert [(d["name"], d["digest"], d["context"]) for d in run["datasets"]] == [m["dataset"]]
    assert lin["code"]["source_name"] == "train_credit.py"
    assert lin["code"]["source_type"] == m["source_type"]
    assert lin["environment"]["file"] == "requirements.txt"
    assert lin["environment"]["text"] == m["requirements"]
    assert "scikit-learn" in lin["environment"]["text"]

    # Other spellings of the same version.
    for other in (f"models:/{name}/1", f"models:/{name}/latest"):
        again = ok(call(server, "GET", f"{FERRY}/lineage", query={"uri": other}))["lineage"]
        assert str(again["model_version"]["version"]) == "1"
        assert again["run"]["run_id"] == m["run_id"]

    assert_error(call(server, "GET", f"{FERRY}/lineage",
                      query={"uri": f"models:/nope-{unique}/1"}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(call(server, "GET", f"{FERRY}/lineage", query={"uri": f"runs:/{m['run_id']}/model"}),
                 400, "INVALID_PARAMETER_VALUE")
    assert_error(call(server, "GET", f"{FERRY}/lineage"), 400, "INVALID_PARAMETER_VALUE")

    # CLI: --json prints the lineage object; the text form names the run and data.
    cli = json.loads(ferry("lineage", uri, "--json", uri=server.url).stdout)
    assert cli["run"]["run_id"] == m["run_id"]
    assert cli["run"]["params"] == lin["run"]["params"]
    text = ferry("lineage", uri, uri=server.url).stdout
    assert m["run_id"] in text and m["dataset"][0] in text and "train_credit.py" in text


def test_model_card(server, client, experiment_id, unique, tmp_path):
    m = _lineage_model(client, unique)
    name = m["name"]
    xss = "<script>alert(1)</script>"
    ok(approve(server, name, "1", "alias:champion", f"approved by risk {xss}", user="alice"))

    md = call(server, "GET", f"{FERRY}/model-card",
              query={"name": name, "version": "1", "format": "markdown"})
    assert md.status == 200, md.body[:500]
    assert md.headers["content-type"].startswith("text/markdown")
    text = md.text
    for want in (name, "auc", "0.913", "alice", "approved by risk", m["dataset"][0]):
        assert want in text, want

    html = call(server, "GET", f"{FERRY}/model-card",
                query={"name": name, "version": "1", "format": "html"})
    assert html.status == 200, html.body[:500]
    assert html.headers["content-type"].startswith("text/html")
    page = html.text
    assert "<html" in page.lower()
    for want in (name, "auc", "0.913", "alice", "approved by risk"):
        assert want in page, want
    assert xss not in page and "&lt;script&gt;" in page  # values are escaped

    assert_error(call(server, "GET", f"{FERRY}/model-card",
                      query={"name": name, "version": "1", "format": "pdf"}),
                 400, "INVALID_PARAMETER_VALUE")
    assert_error(call(server, "GET", f"{FERRY}/model-card",
                      query={"name": name, "version": "9", "format": "html"}),
                 404, "RESOURCE_DOES_NOT_EXIST")

    # CLI: markdown to stdout by default; --output writes the file.
    out = ferry("models", "card", name, "1", uri=server.url).stdout
    assert name in out and "0.913" in out
    target = tmp_path / "card.html"
    proc = ferry("models", "card", name, "1", "--format", "html", "--output", str(target),
                 uri=server.url)
    assert str(target) in proc.stdout
    written = target.read_text()
    assert "<html" in written.lower() and name in written and xss not in written


# ---------------------------------------------------------------------------
# CLI


def test_cli_policy_approve_alias_audit(server, client, experiment_id, unique):
    uri = server.url
    name = f"cli-{unique}"
    client.create_registered_model(name)
    v1 = new_version(client, experiment_id, name, auc=0.90)  # no validation tag
    v2 = new_version(client, experiment_id, name, auc=0.95, tags={"validation_status": "passed"})

    ferry("models", "policy", "set", name, "--protect-alias", "champion",
          "--condition", "auc >= 0.80", "--require-tag", "validation_status=passed",
          "--approvals", "1", uri=uri)
    want = dict(EMPTY_POLICY, protected_aliases=["champion"], conditions=["auc >= 0.80"],
                required_tags={"validation_status": "passed"}, required_approvals=1)
    assert ok(get_policy(server, name)) == {"policy": want}
    assert json.loads(ferry("models", "policy", "get", name, "--json", uri=uri).stdout) == {
        "policy": want}
    text = ferry("models", "policy", "get", name, uri=uri).stdout
    assert "champion" in text and "auc >= 0.80" in text and "validation_status" in text

    proc = ferry("models", "alias", "set", name, "champion", v1, uri=uri, check=False)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "PERMISSION_DENIED" in proc.stderr
    assert "validation_status" in proc.stderr and "approval" in proc.stderr.lower()
    assert champion(client, name) is None

    ferry("models", "approve", name, v2, "--target", "alias:champion", "--comment", "ok by me",
          "--user", "alice", uri=uri)
    assert [(a["user"], a["target"], a["comment"]) for a in approvals(server, name, v2)] == [
        ("alice", "alias:champion", "ok by me")]
    ferry("models", "alias", "set", name, "champion", v2, uri=uri)
    assert champion(client, name) == v2

    ferry("models", "alias", "set", name, "champion", v1, "--force", "--reason", "rollback drill",
          uri=uri)
    assert champion(client, name) == v1

    log = json.loads(ferry("audit", "log", "--object", name, "--json", uri=uri).stdout)
    actions = [e["action"] for e in log["entries"]]
    for action in ("registered_model.create", "model_version.create", "policy.set",
                   "approval.add", "alias.set", "alias.set.force"):
        assert action in actions, (action, actions)
    forced = [e for e in log["entries"] if e["action"] == "alias.set.force"]
    assert forced[0]["after"]["reason"] == "rollback drill"
    approval_entry = next(e for e in log["entries"] if e["action"] == "approval.add")
    assert approval_entry["actor"] == "alice"
    table = ferry("audit", "log", "--object", name, uri=uri).stdout
    assert "alias.set.force" in table and "alice" in table

    proc = ferry("audit", "verify", uri=uri)
    assert proc.returncode == 0
