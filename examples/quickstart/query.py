"""Quickstart: query a served model over the Open Inference Protocol V2 (REST).

Plain `requests`, nothing Ferry-specific: any V2 server (Ferry, Triton, KServe,
MLServer) answers the same calls. Reads the model's metadata, sends a burst of
single-row infer requests built from the held-out test rows of the dataset
train.py used, and prints a few predictions next to the true labels, the
latency the client measured and which model version answered how often (a
canary split shows up here).

    python query.py --url http://127.0.0.1:8080 --model credit --requests 200

Exit code: 0 when every request succeeded, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections import Counter

import numpy as np
import requests
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default="http://127.0.0.1:8080", help="the server's REST address")
    p.add_argument("--model", default="credit", help="served model name")
    p.add_argument("--requests", type=int, default=200, help="how many infer requests to send")
    p.add_argument("--show", type=int, default=5, help="how many predictions to print")
    p.add_argument("--test-size", type=float, default=0.25, help="as in train.py")
    p.add_argument("--seed", type=int, default=42, help="as in train.py")
    return p.parse_args()


def infer_body(request_id: str, input_name: str, datatype: str, row: np.ndarray) -> dict:
    return {
        "id": request_id,
        "inputs": [
            {
                "name": input_name,
                "datatype": datatype,
                "shape": [1, len(row)],
                "data": [float(str(x)) for x in row],  # shortest float32 text
            }
        ],
    }


def output(response: dict, name: str) -> list:
    for out in response.get("outputs", []):
        if out["name"] == name:
            return out["data"]
    raise KeyError(f"no output '{name}' in the response")


def main() -> int:
    args = parse_args()
    base = args.url.rstrip("/")
    model_url = f"{base}/v2/models/{args.model}"
    session = requests.Session()

    # What does the server expect? One tensor input of shape [-1, 30] for a
    # model logged from a numpy array.
    meta = session.get(model_url, timeout=30)
    meta.raise_for_status()
    meta = meta.json()
    print(f"model '{meta['name']}' versions {meta.get('versions', [])} "
          f"(platform {meta.get('platform', '?')})")
    for kind in ("inputs", "outputs"):
        for t in meta.get(kind, []):
            print(f"  {kind[:-1]:6} {t['name']:10} {t['datatype']:6} shape {t['shape']}")
    if len(meta["inputs"]) != 1:
        print("query.py expects a model with one tensor input", file=sys.stderr)
        return 1
    input_name, datatype = meta["inputs"][0]["name"], meta["inputs"][0]["datatype"]

    data = load_breast_cancer()
    _, X_test, _, y_test = train_test_split(
        data.data, data.target, test_size=args.test_size, random_state=args.seed,
        stratify=data.target,
    )
    X_test = X_test.astype(np.float32)
    if meta["inputs"][0]["shape"][-1] not in (-1, X_test.shape[1]):
        print(f"the model expects {meta['inputs'][0]['shape']}, the test rows have "
              f"{X_test.shape[1]} features", file=sys.stderr)
        return 1

    latencies_ms, versions, failures, rows = [], Counter(), [], []
    correct = Counter()
    for i in range(args.requests):
        j = i % len(X_test)
        request_id = f"quickstart-{i:04d}"
        body = infer_body(request_id, input_name, datatype, X_test[j])
        start = time.perf_counter()
        try:
            resp = session.post(f"{model_url}/infer", json=body, timeout=30)
        except requests.RequestException as e:
            failures.append(f"{request_id}: {e}")
            continue
        latencies_ms.append((time.perf_counter() - start) * 1000)
        if resp.status_code != 200:
            failures.append(f"{request_id}: HTTP {resp.status_code}: {resp.text[:200]}")
            continue
        answer = resp.json()
        if answer.get("id") != request_id:
            failures.append(f"{request_id}: answer carries id {answer.get('id')!r}")
            continue
        version = answer.get("model_version", "?")
        p_benign = output(answer, "predict")[0]
        label = int(output(answer, "label")[0])
        versions[version] += 1
        correct[version] += int(label == y_test[j])
        rows.append((request_id, version, p_benign, label, int(y_test[j])))

    names = data.target_names
    print(f"\nfirst {min(args.show, len(rows))} predictions (P = probability of '{names[1]}'):")
    print(f"  {'id':16} {'version':>7} {'P':>6}  {'predicted':10} {'true':10}")
    for request_id, version, p, label, truth in rows[: args.show]:
        print(f"  {request_id:16} {version:>7} {p:6.3f}  {names[label]:10} {names[truth]:10}")

    ok = len(rows)
    print(f"\n{ok}/{args.requests} requests answered", end="")
    if latencies_ms:
        p50, p99 = np.percentile(latencies_ms, [50, 99])
        print(f"; client-side latency p50 {p50:.1f} ms, p99 {p99:.1f} ms", end="")
    print()
    print("answers per model version:")
    for version, n in sorted(versions.items()):
        print(f"  version {version}: {n:4d} ({100 * n / max(ok, 1):.0f}%), "
              f"{100 * correct[version] / n:.0f}% correct")

    example = json.dumps(infer_body("curl-1", input_name, datatype, X_test[0]), separators=(",", ":"))
    print("\ntry it yourself:")
    print(f"  curl -s -H 'Content-Type: application/json' -d {shlex.quote(example)} {model_url}/infer")

    if failures:
        print(f"\n{len(failures)} request(s) failed:", file=sys.stderr)
        for f in failures[:10]:
            print(f"  {f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
