"""Hostile REST input, sent with plain `requests`: every bad request is a 400
(404 for an unknown model, 503 + Retry-After for a full queue) with a JSON
{"error": "..."} body, and the server stays healthy afterwards.
"""

from __future__ import annotations

import concurrent.futures
import json

import numpy as np
import pytest
import requests

from .harness import (AUTO_CONFIG, FEATURES, MODEL, FerryServe, expected_predict, output_array, serve_fixture,
                     v2_body, write_repository)

pytestmark = pytest.mark.timeout(120)

JSON = {"Content-Type": "application/json"}
ROW = [0.25] * FEATURES


@pytest.fixture(scope="module")
def srv(repository, tmp_path_factory):
    yield from serve_fixture(tmp_path_factory.mktemp("serve-errors"),
                             ["--model-repository", str(repository), "--no-access-log"])


@pytest.fixture(scope="module")
def session():
    with requests.Session() as s:
        yield s


def infer_url(srv, model: str = MODEL) -> str:
    return f"{srv.url}/v2/models/{model}/infer"


def tensor(name="input-0", datatype="FP32", shape=(1, FEATURES), data=None, **extra) -> dict:
    t = {"name": name, "datatype": datatype, "shape": list(shape) if isinstance(shape, (list, tuple)) else shape,
         "data": ROW if data is None else data}
    t.update(extra)
    return t


def binary_request(header: dict, payload: bytes, declared_length: int | None = None) -> tuple[bytes, dict]:
    head = json.dumps(header).encode()
    length = len(head) if declared_length is None else declared_length
    return head + payload, {"Inference-Header-Content-Length": str(length),
                            "Content-Type": "application/octet-stream"}


def assert_error(r: requests.Response, status: int = 400, mentions: str | None = None) -> str:
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text[:500]}"
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body
    if mentions is not None:
        assert mentions in body["error"], f"error does not name {mentions!r}: {body['error']!r}"
    return body["error"]


@pytest.fixture(autouse=True)
def _still_healthy(request):
    yield
    if "srv" in request.fixturenames:
        srv = request.getfixturevalue("srv")
        assert srv.alive(), f"ferry serve died:\n{srv.log_tail()}"
        r = requests.get(f"{srv.url}/v2/health/live", timeout=10)
        assert r.status_code == 200, r.text
        r = requests.get(f"{srv.url}/v2/health/ready", timeout=10)
        assert r.status_code == 200, r.text


# --- JSON bodies -----------------------------------------------------------

MALFORMED_BODIES = {
    "not-json": b"{not json",
    "truncated": b'{"inputs": [{"name": "input-0", "datatype": "FP32", "shape": [1, 30], "data": [0.1, ',
    "empty": b"",
    "array": b"[1, 2, 3]",
    "string": b'"inputs"',
    "null": b"null",
    "no-inputs": b'{"id": "x"}',
    "inputs-not-array": b'{"inputs": {"name": "input-0"}}',
    "inputs-empty": b'{"inputs": []}',
    "input-not-object": b'{"inputs": [42]}',
    "deep-nesting": b'{"inputs": ' + b"[" * 100000 + b"]" * 100000 + b"}",
    "invalid-utf8": b'{"inputs": [{"name": "\xff\xfe", "datatype": "FP32", "shape": [1], "data": [1]}]}',
    "nul-bytes": b'{"inputs": [\x00]}',
}


@pytest.mark.parametrize("body", MALFORMED_BODIES.values(), ids=MALFORMED_BODIES.keys())
def test_malformed_json(srv, session, body):
    assert_error(session.post(infer_url(srv), data=body, headers=JSON, timeout=30))


BAD_TENSORS = {
    # wrong datatype names
    "datatype-lowercase": tensor(datatype="fp32"),
    "datatype-float32": tensor(datatype="FLOAT32"),
    "datatype-empty": tensor(datatype=""),
    "datatype-number": tensor(datatype=7),
    "datatype-missing": {"name": "input-0", "shape": [1, FEATURES], "data": ROW},
    # shape/data mismatch
    "too-few-values": tensor(data=ROW[:-1]),
    "too-many-values": tensor(data=ROW + [1.0]),
    "two-rows-one-row-of-data": tensor(shape=(2, FEATURES)),
    "wrong-width": tensor(shape=(1, FEATURES - 1), data=ROW[:-1]),
    "rank-3": tensor(shape=(1, 1, FEATURES)),
    "rank-1": tensor(shape=(FEATURES,)),
    "negative-dim": tensor(shape=(-1, FEATURES)),
    "shape-not-list": tensor(shape=FEATURES),
    "shape-strings": tensor(shape=("1", "30")),
    "shape-floats": tensor(shape=(1.5, FEATURES)),
    "shape-missing": {"name": "input-0", "datatype": "FP32", "data": ROW},
    # huge shapes: must be rejected without allocating
    "huge-rows": tensor(shape=(1 << 40, FEATURES)),
    "huge-product-overflow": tensor(shape=(1 << 62, 1 << 62)),
    "huge-beyond-int64": tensor(shape=(1 << 70, FEATURES)),
    "huge-rank": tensor(shape=(1,) * 100000, data=[0.5]),
    # data of the wrong kind
    "data-strings": tensor(data=["a"] * FEATURES),
    "data-null": tensor(data=[None] * FEATURES),
    "data-bools-for-fp32": tensor(data=[True] * FEATURES),
    "data-object": tensor(data={"a": 1}),
    "data-missing": {"name": "input-0", "datatype": "FP32", "shape": [1, FEATURES]},
    "data-nested-ragged": tensor(shape=(2, FEATURES), data=[ROW, ROW[:-1]]),
    "int-overflow-for-int64-input": tensor(datatype="INT64", data=[2**70] * FEATURES),
    # names
    "wrong-input-name": tensor(name="features"),
    "name-missing": {"datatype": "FP32", "shape": [1, FEATURES], "data": ROW},
    "name-not-string": tensor(name=5),
}

# The error must name the offending input where there is one to name.
MENTIONS = {
    "too-few-values": "input-0", "too-many-values": "input-0", "two-rows-one-row-of-data": "input-0",
    "wrong-width": "input-0", "rank-3": "input-0", "rank-1": "input-0",
    "huge-rows": "input-0", "huge-product-overflow": "input-0", "datatype-float32": "input-0",
    "datatype-lowercase": "input-0", "data-strings": "input-0", "wrong-input-name": "features",
}


@pytest.mark.parametrize("case", BAD_TENSORS.keys())
def test_bad_tensor(srv, session, case):
    r = session.post(infer_url(srv), json={"inputs": [BAD_TENSORS[case]]}, timeout=30)
    assert_error(r, mentions=MENTIONS.get(case))


def test_duplicate_input(srv, session):
    r = session.post(infer_url(srv), json={"inputs": [tensor(), tensor()]}, timeout=30)
    assert_error(r, mentions="input-0")


def test_unknown_output(srv, session):
    r = session.post(infer_url(srv), json={"inputs": [tensor()], "outputs": [{"name": "nope"}]}, timeout=30)
    assert_error(r, mentions="nope")


def test_unknown_model(srv, session):
    assert_error(session.post(infer_url(srv, "no-such-model"), json={"inputs": [tensor()]}, timeout=30), 404)
    assert_error(session.get(f"{srv.url}/v2/models/no-such-model", timeout=30), 404)
    assert_error(session.post(f"{srv.url}/v2/models/{MODEL}/versions/99/infer", json={"inputs": [tensor()]},
                              timeout=30), 404)


def test_unknown_route(srv, session):
    assert_error(session.get(f"{srv.url}/v2/nothing-here", timeout=30), 404)


# --- binary tensor extension ---------------------------------------------


def binary_header(size: int, shape=(1, FEATURES), **params) -> dict:
    return {"inputs": [{"name": "input-0", "datatype": "FP32", "shape": list(shape),
                        "parameters": {"binary_data_size": size, **params}}]}


PAYLOAD = np.asarray(ROW, dtype=np.float32).tobytes()


def test_binary_valid_baseline(srv, session, booster):
    body, headers = binary_request(binary_header(len(PAYLOAD)), PAYLOAD)
    r = session.post(infer_url(srv), data=body, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    x = np.asarray([ROW], dtype=np.float32)
    np.testing.assert_array_equal(output_array(r.json(), "predict"), expected_predict(booster, x))


BINARY_CASES = {
    # Inference-Header-Content-Length larger than the body
    "header-length-beyond-body": lambda: binary_request(binary_header(len(PAYLOAD)), PAYLOAD,
                                                        declared_length=10_000_000),
    "header-length-body-plus-one": lambda: binary_request(
        binary_header(len(PAYLOAD)), PAYLOAD,
        declared_length=len(json.dumps(binary_header(len(PAYLOAD)))) + len(PAYLOAD) + 1),
    # ... shorter than the JSON header (cuts the JSON)
    "header-length-cuts-json": lambda: binary_request(binary_header(len(PAYLOAD)), PAYLOAD, declared_length=10),
    "header-length-zero": lambda: binary_request(binary_header(len(PAYLOAD)), PAYLOAD, declared_length=0),
    # binary_data_size mismatches
    "binary-size-larger-than-payload": lambda: binary_request(binary_header(len(PAYLOAD) + 4), PAYLOAD),
    "binary-size-smaller-than-payload": lambda: binary_request(binary_header(len(PAYLOAD) - 4), PAYLOAD),
    "binary-size-not-multiple-of-4": lambda: binary_request(binary_header(len(PAYLOAD) - 1), PAYLOAD[:-1]),
    "binary-size-vs-shape": lambda: binary_request(binary_header(len(PAYLOAD), shape=(2, FEATURES)), PAYLOAD),
    "binary-size-negative": lambda: binary_request(binary_header(-4), PAYLOAD),
    "binary-size-huge": lambda: binary_request(binary_header(1 << 62), PAYLOAD),
    "binary-size-string": lambda: binary_request(binary_header("120"), PAYLOAD),  # type: ignore[arg-type]
    "binary-and-json-data": lambda: binary_request(
        {"inputs": [{**binary_header(len(PAYLOAD))["inputs"][0], "data": ROW}]}, PAYLOAD),
    "binary-trailing-garbage": lambda: binary_request(binary_header(len(PAYLOAD)), PAYLOAD + b"junk"),
}


@pytest.mark.parametrize("case", BINARY_CASES.keys())
def test_binary_errors(srv, session, case):
    body, headers = BINARY_CASES[case]()
    assert_error(session.post(infer_url(srv), data=body, headers=headers, timeout=30))


@pytest.mark.parametrize("value", ["abc", "-5", "12abc", "", "1e3", "0x10", "99999999999999999999999"])
def test_bad_header_length_value(srv, session, value):
    body, headers = binary_request(binary_header(len(PAYLOAD)), PAYLOAD)
    headers["Inference-Header-Content-Length"] = value
    r = session.post(infer_url(srv), data=body, headers=headers, timeout=30)
    if value == "":
        # An empty header is no header: the body is then not valid JSON.
        assert_error(r)
    else:
        assert_error(r, mentions="Inference-Header-Content-Length")


def test_valid_requests_after_abuse(srv, session, booster, rows):
    x = rows[:3]
    r = session.post(infer_url(srv), json=v2_body(x, request_id="after"), timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == "after"
    np.testing.assert_array_equal(output_array(r.json(), "predict"), expected_predict(booster, x))


def test_queue_full_is_503_with_retry_after(booster, tmp_path):
    """Two queue slots and a 2 s batching window: a burst overflows the queue.

    The window and queue come from the model's config.pbtxt (a repository
    config governs its model, as in Triton)."""
    slow_config = AUTO_CONFIG + (
        "dynamic_batching {{ max_queue_delay_microseconds: 2000000 "
        "default_queue_policy {{ max_queue_size: 2 }} }}\n")
    repo = write_repository(tmp_path / "repo", booster, {"slow": slow_config})
    with FerryServe(tmp_path / "serve", ["--model-repository", str(repo), "--no-access-log"]) as srv:
        def send(n: int) -> requests.Response:
            return requests.post(infer_url(srv, "slow"), json={"id": f"burst-{n}", "inputs": [tensor()]},
                                 timeout=30)

        with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
            responses = list(pool.map(send, range(10)))
        statuses = sorted(r.status_code for r in responses)
        assert set(statuses) <= {200, 503}, [(r.status_code, r.text[:200]) for r in responses]
        rejected = [r for r in responses if r.status_code == 503]
        assert rejected, f"no 503 from a 10-request burst into a 2-slot queue: {statuses}"
        assert statuses.count(200) >= 2, statuses
        for r in rejected:
            assert_error(r, 503)
            retry_after = r.headers.get("Retry-After")
            assert retry_after is not None and retry_after.isdigit() and int(retry_after) >= 1, r.headers
        # The server recovers.
        r = requests.post(infer_url(srv, "slow"), json={"inputs": [tensor()]}, timeout=30)
        assert r.status_code == 200, r.text
