"""Trains the serving benchmark model and lays it out for both servers.

XGBoost, 100 trees of depth 6, 30 float features, binary:logistic, trained on
synthetic data from a fixed seed (the same bytes on every run with the same
xgboost version). Writes, under --out (default build/bench-serving/model):

  ferry-repo/xgb/config.pbtxt       Triton-style config: instance_group count
                                    --instances (default 2), max_batch_size 64,
                                    dynamic_batching (max_queue_delay_microseconds
                                    --queue-delay-us, default 0: a batch is what
                                    is queued when an instance frees up; no wait)
  ferry-repo/xgb/1/model.json
  ferry-repo-nobatch/xgb/...        same model, max_batch_size 0 (no batching:
                                    dims are the full shape [-1, 30]) and no
                                    dynamic_batching block
  mlserver/settings.json            server settings (non-default ports; run.sh
                                    rewrites it with free ports for each run)
  mlserver/xgb/model-settings.json  mlserver_xgboost.XGBoostModel, uri ./model.json
  mlserver/xgb/model.json
  request-1.json                    V2 infer body, batch 1: input-0 FP32 [1,30],
                                    asks for the "predict" output only
  expected-1.json                   the probability xgboost computes for it

MLServer's xgboost runtime decodes the request with NumpyRequestCodec, which
takes the (only) input whatever its name, so the body Ferry needs ("input-0")
works for both. Asking for "predict" only makes both servers do the same work
(MLServer returns only "predict" by default; Ferry would add "label").

Run with the interpreter of the `mlserver` venv (scripts/venv.sh mlserver
bench/serving/requirements-mlserver.txt), whose xgboost is the one MLServer
serves with; its 1.7.x JSON format is also what Debian's libxgboost (1.7.4),
which Ferry links, reads.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import xgboost as xgb

MODEL = "xgb"
FEATURES = 30
TREES = 100
DEPTH = 6
SEED = 20240604
ROWS = 20000
MAX_BATCH = 64


def train() -> tuple[xgb.Booster, np.ndarray]:
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(ROWS, FEATURES)).astype(np.float32)
    w = rng.normal(size=FEATURES)
    logit = x @ w * 0.5 + np.sin(x[:, 0] * 2.0) + x[:, 1] * x[:, 2] + rng.normal(scale=0.5, size=ROWS)
    y = (logit > 0).astype(np.float32)
    params = {
        "objective": "binary:logistic",
        "max_depth": DEPTH,
        "eta": 0.1,
        "tree_method": "hist",
        "seed": SEED,
        "nthread": 2,
        "eval_metric": "logloss",
    }
    booster = xgb.train(params, xgb.DMatrix(x, label=y), num_boost_round=TREES)
    return booster, x


def config_pbtxt(batching: bool, queue_delay_us: int, instances: int) -> str:
    if not batching:
        # max_batch_size 0: no batch dimension is implied, dims are full shapes.
        return f"""name: "{MODEL}"
backend: "xgboost"
max_batch_size: 0
input [
  {{
    name: "input-0"
    data_type: TYPE_FP32
    dims: [ -1, {FEATURES} ]
  }}
]
output [
  {{
    name: "predict"
    data_type: TYPE_FP32
    dims: [ -1 ]
  }},
  {{
    name: "label"
    data_type: TYPE_INT64
    dims: [ -1 ]
  }}
]
instance_group [
  {{
    count: {instances}
    kind: KIND_CPU
  }}
]
"""
    # dims exclude the batch dimension (max_batch_size > 0): input [-1, 30];
    # outputs are [-1], written the canonical Triton way (dims [1] reshaped to
    # the empty shape).
    return f"""name: "{MODEL}"
backend: "xgboost"
max_batch_size: {MAX_BATCH}
input [
  {{
    name: "input-0"
    data_type: TYPE_FP32
    dims: [ {FEATURES} ]
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
instance_group [
  {{
    count: {instances}
    kind: KIND_CPU
  }}
]
dynamic_batching {{
  max_queue_delay_microseconds: {queue_delay_us}
}}
"""


def main() -> None:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=here.parent.parent / "build" / "bench-serving" / "model")
    parser.add_argument("--instances", type=int, default=2,
                        help="instance_group count in both configs (default 2: one per core of the "
                             "2-core bench box, as MLServer's tuned row runs 2 parallel_workers)")
    parser.add_argument("--queue-delay-us", type=int, default=0,
                        help="dynamic_batching max_queue_delay_microseconds of ferry-repo (default 0)")
    args = parser.parse_args()
    out: Path = args.out

    booster, x = train()
    if out.exists():
        shutil.rmtree(out)

    for repo, batching in (("ferry-repo", True), ("ferry-repo-nobatch", False)):
        version_dir = out / repo / MODEL / "1"
        version_dir.mkdir(parents=True)
        booster.save_model(str(version_dir / "model.json"))
        (out / repo / MODEL / "config.pbtxt").write_text(config_pbtxt(batching, args.queue_delay_us, args.instances))

    ml_dir = out / "mlserver" / MODEL
    ml_dir.mkdir(parents=True)
    booster.save_model(str(ml_dir / "model.json"))
    (ml_dir / "model-settings.json").write_text(json.dumps({
        "name": MODEL,
        "implementation": "mlserver_xgboost.XGBoostModel",
        "parameters": {"uri": "./model.json", "version": "1"},
    }, indent=2) + "\n")
    # Ports away from MLServer's 8080/8081/8082 defaults; run.sh rewrites this
    # file with free ports (and parallel_workers) for each server it starts.
    (out / "mlserver" / "settings.json").write_text(json.dumps({
        "debug": False,
        "http_port": 18080,
        "grpc_port": 18081,
        "metrics_port": 18082,
        "load_models_at_startup": True,
    }, indent=2) + "\n")

    row = x[:1]
    body = {
        "id": "bench",
        "inputs": [{
            "name": "input-0",
            "shape": [1, FEATURES],
            "datatype": "FP32",
            "data": [float(v) for v in row[0]],
        }],
        "outputs": [{"name": "predict"}],
    }
    (out / "request-1.json").write_text(json.dumps(body, separators=(",", ":")))
    expected = float(booster.predict(xgb.DMatrix(row))[0])
    (out / "expected-1.json").write_text(json.dumps({"predict": [expected], "label": [int(expected > 0.5)]}) + "\n")

    trees = len(booster.get_dump())
    print(f"make_model: xgboost {xgb.__version__}, {trees} trees, depth {DEPTH}, "
          f"{FEATURES} features -> {out} (predict(row0) = {expected:.6f})")


if __name__ == "__main__":
    main()
