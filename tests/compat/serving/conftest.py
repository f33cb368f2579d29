"""Fixtures for the serving compatibility suite (tests/compat/serving).

Every test module starts its own `ferry serve` (and, for the registry tests,
its own `ferry server`) in its own temp dir on free ports; nothing is shared
between modules. The trained model is shared per session: training is
deterministic (fixed seed) and the booster is never mutated.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

# Set before mlflow is imported anywhere (registry tests).
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")


def pytest_ignore_collect(collection_path, config):
    # tests/compat/run.sh runs pytest in tests/compat with the MLflow venvs,
    # which lack tritonclient; this suite only runs with its own rootdir
    # (tests/compat/serving/run.sh).
    if Path(config.rootpath).resolve() != HERE:
        return True
    return None


def pytest_report_header(config):
    from .harness import ferry_bin

    return [f"serving compat: FERRY_BIN={ferry_bin()}"]


@pytest.fixture(scope="session")
def data():
    from .harness import make_data

    return make_data()


@pytest.fixture(scope="session")
def booster(data):
    from .harness import train_booster

    x, y = data
    return train_booster(x, y)


@pytest.fixture(scope="session")
def rows(data):
    """Held-out rows (a different seed from the training data)."""
    from .harness import make_data

    x, _ = make_data(rows=64, seed=7)
    return x


@pytest.fixture(scope="module")
def repository(booster, tmp_path_factory):
    from .harness import write_repository

    return write_repository(tmp_path_factory.mktemp("repo"), booster)


@pytest.fixture(scope="module")
def repo_server(repository, tmp_path_factory):
    """`ferry serve --model-repository` with the xgb and xgb_auto models."""
    from .harness import serve_fixture

    yield from serve_fixture(tmp_path_factory.mktemp("serve"),
                             ["--model-repository", str(repository), "--no-access-log"])
