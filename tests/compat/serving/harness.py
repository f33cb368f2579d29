"""Helpers for the serving compatibility suite: models, repositories, servers.

`ferry serve` is started as a child process on ports picked here (bind port 0,
close, pass the number), in its own process group, with its log in the test's
temp dir; it is ready when GET /v2/health/ready answers 200. The registry side
(`ferry server`) is started with tests/compat/servers.py, as the MLflow suite
does.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]
DEFAULT_FERRY_BIN = REPO_ROOT / "build" / "release" / "apps" / "ferry" / "ferry"

# tests/compat/servers.py: `ferry server` (the registry) started the way the
# MLflow compatibility suite starts it.
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))
from servers import ManagedProcess  # noqa: E402

FEATURES = 30
TREES = 20
SEED = 20240611
MODEL = "xgb"            # repository model with a full Triton config
AUTO_MODEL = "xgb_auto"  # repository model whose config omits input/output


def ferry_bin() -> Path:
    return Path(os.environ.get("FERRY_BIN", str(DEFAULT_FERRY_BIN)))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------
# Models


def make_data(rows: int = 2000, seed: int = SEED, features: int = FEATURES) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features)).astype(np.float32)
    w = rng.normal(size=features)
    logit = x @ w * 0.5 + np.sin(x[:, 0] * 2.0) + x[:, 1] * x[:, 2] + rng.normal(scale=0.5, size=rows)
    y = (logit > 0).astype(np.float32)
    return x, y


def train_booster(x: np.ndarray, y: np.ndarray, trees: int = TREES, depth: int = 4, eta: float = 0.3,
                  seed: int = SEED):
    import xgboost as xgb

    params = {
        "objective": "binary:logistic",
        "max_depth": depth,
        "eta": eta,
        "tree_method": "hist",
        "seed": seed,
        "nthread": 2,
        "eval_metric": "logloss",
    }
    return xgb.train(params, xgb.DMatrix(x, label=y), num_boost_round=trees)


def expected_predict(booster, x: np.ndarray) -> np.ndarray:
    """What pip xgboost computes: float32 probabilities, one per row."""
    import xgboost as xgb

    via_dmatrix = booster.predict(xgb.DMatrix(x))
    inplace = booster.inplace_predict(x)
    # Both python paths must agree before the server is compared with them.
    np.testing.assert_array_equal(via_dmatrix, inplace)
    assert via_dmatrix.dtype == np.float32
    return via_dmatrix


def expected_label(probabilities: np.ndarray) -> np.ndarray:
    return (probabilities >= np.float32(0.5)).astype(np.int64)


FULL_CONFIG = """name: "{name}"
backend: "xgboost"
max_batch_size: 64
input [
  {{
    name: "input-0"
    data_type: TYPE_FP32
    dims: [ {features} ]
  }}
]
output [
  {{
    name: "predict"
    data_type: TYPE_FP32
    dims: [ 1 ]
    reshape: {{ shape: [ ] }}
  }},
  {{
    name: "label"
    data_type: TYPE_INT64
    dims: [ 1 ]
    reshape: {{ shape: [ ] }}
  }}
]
instance_group [ {{ count: 1 kind: KIND_CPU }} ]
dynamic_batching {{ max_queue_delay_microseconds: 200 }}
"""

AUTO_CONFIG = """name: "{name}"
backend: "xgboost"
max_batch_size: 64
"""


def write_repository(root: Path, booster, models: dict[str, str] | None = None) -> Path:
    """root/<model>/config.pbtxt + root/<model>/1/model.json for each model.

    `models` maps model name -> config template (FULL_CONFIG or AUTO_CONFIG).
    """
    models = models or {MODEL: FULL_CONFIG, AUTO_MODEL: AUTO_CONFIG}
    for name, template in models.items():
        version_dir = root / name / "1"
        version_dir.mkdir(parents=True, exist_ok=True)
        booster.save_model(str(version_dir / "model.json"))
        (root / name / "config.pbtxt").write_text(template.format(name=name, features=FEATURES))
    return root


# ---------------------------------------------------------------------------
# ferry serve


@dataclass
class FerryServe(ManagedProcess):
    """A running `ferry serve`. Use as a context manager or call start()/stop()."""

    workdir: Path
    args: list[str]
    http_port: int = 0
    grpc_port: int = 0
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    exit_code: int | None = None

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.http_port = self.http_port or free_port()
        self.grpc_port = self.grpc_port or free_port()
        self.log_path = self.workdir / "serve.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def http_target(self) -> str:
        """host:port, as tritonclient.http and perf_analyzer want it."""
        return f"127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def command(self) -> list[str]:
        return [
            str(ferry_bin()), "serve",
            "--host", "127.0.0.1",
            "--http-port", str(self.http_port),
            "--grpc-port", str(self.grpc_port),
            "--cache-dir", str(self.workdir / "cache"),
            *self.args,
        ]

    def start(self, timeout_s: float = 60.0, wait_ready: bool = True) -> "FerryServe":
        if not ferry_bin().exists():
            raise RuntimeError(f"Ferry binary {ferry_bin()} does not exist: build it or set FERRY_BIN")
        env = dict(os.environ)
        env.update(self.env)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=self.workdir, start_new_session=True,
        )
        log.close()
        self.exit_code = None
        if wait_ready:
            self.wait_ready(timeout_s)
        return self

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"ferry serve exited with {self.proc.returncode} before becoming ready:\n"
                    f"{' '.join(self.command())}\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/v2/health/ready", timeout=2) as resp:
                    if resp.status == 200:
                        return
                    last = f"status {resp.status}"
            except urllib.error.HTTPError as e:
                last = f"status {e.code} {e.read()[:200]!r}"
            except (urllib.error.URLError, ConnectionError, OSError) as e:
                last = str(e)
            time.sleep(0.1)
        self.kill_hard()
        raise RuntimeError(f"ferry serve not ready after {timeout_s}s ({last}):\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> "FerryServe":
        return self.start() if self.proc is None else self

    def __exit__(self, *exc) -> None:
        code = self.stop()
        if exc[0] is None and code != 0:
            raise AssertionError(f"ferry serve exited with {code} on SIGTERM:\n{self.log_tail()}")


def serve_fixture(workdir: Path, args: list[str], **kw):
    """Generator body for pytest fixtures: start, yield, stop, fail on a bad exit."""
    srv = FerryServe(workdir, args, **kw).start()
    try:
        yield srv
    finally:
        code = srv.stop()
    if code != 0:
        raise AssertionError(f"ferry serve exited with {code} on SIGTERM:\n{srv.log_tail()}")


# ---------------------------------------------------------------------------
# Plain HTTP


def v2_body(x: np.ndarray, name: str = "input-0", request_id: str | None = None,
            outputs: list[str] | None = None) -> dict:
    body: dict = {
        "inputs": [{
            "name": name,
            "shape": list(x.shape),
            "datatype": "FP32",
            "data": x.reshape(-1).tolist(),
        }],
    }
    if request_id is not None:
        body["id"] = request_id
    if outputs is not None:
        body["outputs"] = [{"name": o} for o in outputs]
    return body


def output_array(response: dict, name: str) -> np.ndarray:
    for out in response["outputs"]:
        if out["name"] == name:
            dtype = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64, "INT32": np.int32}[out["datatype"]]
            return np.asarray(out["data"], dtype=dtype).reshape(out["shape"])
    raise KeyError(f"no output {name!r} in {json.dumps(response)[:500]}")
