"""Fixtures for the MLflow client compatibility suite.

One server per pytest session (Ferry, or real MLflow with COMPAT_SERVER=mlflow),
started on a free port in a temp dir and stopped at the end. Tests isolate
themselves by creating uniquely named experiments, never by sharing state.
"""

from __future__ import annotations

import os
import uuid

import pytest

from servers import client_env, is_mlflow_server, make_server, server_kind

# Set before mlflow is imported anywhere so that its env-var reads see them.
os.environ.update(client_env())

import mlflow  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

MLFLOW_MAJOR = int(mlflow.__version__.split(".")[0])

ferry_only = pytest.mark.skipif(
    is_mlflow_server(), reason="Ferry-only: real MLflow behaves differently here"
)


def pytest_report_header(config):
    return [f"compat: server={server_kind()} mlflow-client={mlflow.__version__}"]


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = make_server(tmp_path_factory.mktemp("server"))
    srv.start()
    record = os.environ.get("COMPAT_RECORD")
    proxy = None
    tracking_uri = srv.url
    if record:
        from recording_proxy import RecordingProxy

        proxy = RecordingProxy("127.0.0.1", srv.port, record).start()
        tracking_uri = f"http://127.0.0.1:{proxy.port}"
    srv.tracking_uri = tracking_uri
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    mlflow.set_tracking_uri(tracking_uri)
    yield srv
    if proxy:
        proxy.stop()
    code = srv.stop()
    if srv.kind == "ferry" and code != 0:
        pytest.fail(f"ferry server exited with {code} on SIGTERM:\n{srv.log_tail()}")


@pytest.fixture(scope="session")
def tracking_uri(server) -> str:
    return server.tracking_uri


@pytest.fixture
def client(server) -> MlflowClient:
    return MlflowClient(tracking_uri=server.tracking_uri)


@pytest.fixture
def unique():
    """A short unique suffix for names; tests must not depend on each other's data."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def experiment_id(client, request, unique) -> str:
    name = f"{request.node.name[:60]}-{unique}"
    exp_id = client.create_experiment(name)
    mlflow.set_experiment(experiment_id=exp_id)
    return exp_id


@pytest.fixture(autouse=True)
def _no_active_run_left():
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()


def rest_store(client: MlflowClient):
    """The client's RestStore: sends one request per call, no client-side batching."""
    return client._tracking_client.store


def user_tags(tags: dict) -> dict:
    """Tags a test set itself, without the mlflow.* system tags the client adds."""
    return {k: v for k, v in tags.items() if not k.startswith("mlflow.")}
