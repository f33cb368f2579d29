"""The `ferry` command line against a running server: client commands,
--version/--help, and the refusal to listen on a non-loopback address."""

from __future__ import annotations

import json
import subprocess

import mlflow
import pytest

from conftest import ferry_only
from servers import ferry_bin

pytestmark = ferry_only


def ferry(*args: str, uri: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [str(ferry_bin()), *args]
    if uri:
        cmd += ["--tracking-uri", uri]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_version_and_help():
    assert ferry("--version").stdout.startswith("ferry ")
    for sub in (["server"], ["experiments", "list"], ["runs", "search"], ["runs", "describe"]):
        out = ferry(*sub, "--help").stdout
        assert "--" in out and "Usage" in out


def test_non_loopback_host_is_refused(tmp_path):
    proc = subprocess.run(
        [str(ferry_bin()), "server", "--host", "0.0.0.0", "--port", "0",
         "--backend-store-uri", f"sqlite:///{tmp_path}/x.db",
         "--artifacts-destination", str(tmp_path / "a")],
        capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "--allow-unauthenticated" in proc.stderr
    assert not (tmp_path / "x.db").exists()


def test_experiments_and_runs_commands(tracking_uri, experiment_id, client):
    name = client.get_experiment(experiment_id).name
    with mlflow.start_run(experiment_id=experiment_id, run_name="cli-run") as run:
        mlflow.log_param("alpha", "0.5")
        mlflow.log_metric("auc", 0.91)
    listing = ferry("experiments", "list", uri=tracking_uri).stdout
    assert name in listing and "ARTIFACT LOCATION" in listing
    listed = json.loads(ferry("experiments", "list", "--json", uri=tracking_uri).stdout)
    assert experiment_id in [e["experiment_id"] for e in listed["experiments"]]
    assert name in ferry("experiments", "describe", experiment_id, uri=tracking_uri).stdout
    assert experiment_id in ferry("experiments", "describe", name, uri=tracking_uri).stdout

    table = ferry("runs", "search", "--experiment-name", name, "--filter", "metrics.auc > 0.9",
                  uri=tracking_uri).stdout
    assert run.info.run_id in table and "auc=0.91" in table and "1 run(s)" in table
    none = ferry("runs", "search", "--experiment-id", experiment_id, "--filter", "metrics.auc > 0.95",
                 uri=tracking_uri).stdout
    assert "0 run(s)" in none
    data = json.loads(ferry("runs", "describe", run.info.run_id, "--json", uri=tracking_uri).stdout)
    assert data["run"]["info"]["run_name"] == "cli-run"
    text = ferry("runs", "describe", run.info.run_id, uri=tracking_uri).stdout
    assert "alpha" in text and "0.5" in text and "auc" in text


def test_client_errors_are_reported(tracking_uri):
    proc = ferry("runs", "describe", "0" * 32, uri=tracking_uri, check=False)
    assert proc.returncode == 1
    assert "RESOURCE_DOES_NOT_EXIST" in proc.stderr
    proc = ferry("runs", "search", "--filter", "metrics.x >> 1", uri=tracking_uri, check=False)
    assert proc.returncode == 1 and "INVALID_PARAMETER_VALUE" in proc.stderr
    proc = ferry("experiments", "list", uri="http://127.0.0.1:1", check=False)
    assert proc.returncode == 1 and "is `ferry server` running" in proc.stderr
