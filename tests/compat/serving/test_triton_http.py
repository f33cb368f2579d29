"""tritonclient.http (Triton's own Python client) against `ferry serve`.

The model is a 20-tree binary:logistic booster trained here with pip xgboost
and laid out as a Triton model repository; every prediction the server returns
must equal pip xgboost's own float32 prediction bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from .harness import AUTO_MODEL, FEATURES, MODEL, expected_label, expected_predict

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def client(repo_server):
    c = httpclient.InferenceServerClient(url=repo_server.http_target, network_timeout=30.0)
    yield c
    c.close()


def fp32_input(x: np.ndarray, binary: bool, name: str = "input-0") -> httpclient.InferInput:
    inp = httpclient.InferInput(name, list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=binary)
    return inp


def test_models_run_on_the_native_tree_evaluator(repo_server, client):
    """Both models (trained by pip xgboost 3.x) load with Ferry's own tree evaluator, which
    passed its bit-for-bit check against libxgboost at load; the prediction tests below then
    compare it with pip xgboost's own predictions."""
    assert client.is_model_ready(MODEL)
    log = repo_server.log_path.read_text()
    for name in (MODEL, AUTO_MODEL):
        assert f"native tree evaluator on: model '{name}'" in log, log[-2000:]


def test_health(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready(MODEL)
    assert client.is_model_ready(MODEL, "1")
    assert client.is_model_ready(AUTO_MODEL)
    assert not client.is_model_ready("no-such-model")


def test_server_metadata(client):
    md = client.get_server_metadata()
    assert md["name"]
    assert md["version"]
    assert isinstance(md.get("extensions", []), list)


def test_model_metadata_from_config(client):
    md = client.get_model_metadata(MODEL)
    assert md["name"] == MODEL
    assert "1" in md["versions"]
    assert md["inputs"] == [{"name": "input-0", "datatype": "FP32", "shape": [-1, FEATURES]}]
    outputs = {o["name"]: o for o in md["outputs"]}
    assert outputs["predict"]["datatype"] == "FP32"
    assert outputs["predict"]["shape"] == [-1]
    assert outputs["label"]["datatype"] == "INT64"
    assert outputs["label"]["shape"] == [-1]
    # Per-version metadata is the same model.
    assert client.get_model_metadata(MODEL, "1")["inputs"] == md["inputs"]


def test_model_metadata_reported_by_backend(client):
    # xgb_auto's config.pbtxt has no input/output: the backend reports them.
    md = client.get_model_metadata(AUTO_MODEL)
    assert md["name"] == AUTO_MODEL
    assert md["inputs"] == [{"name": "input-0", "datatype": "FP32", "shape": [-1, FEATURES]}]
    outputs = {o["name"]: (o["datatype"], o["shape"]) for o in md["outputs"]}
    assert outputs == {"predict": ("FP32", [-1]), "label": ("INT64", [-1])}


def test_model_config(client):
    config = client.get_model_config(MODEL)
    assert config["name"] == MODEL
    assert config["max_batch_size"] == 64
    assert [i["name"] for i in config["input"]] == ["input-0"]
    assert config["input"][0]["data_type"] == "TYPE_FP32"
    assert [int(d) for d in config["input"][0]["dims"]] == [FEATURES]
    assert [o["name"] for o in config["output"]] == ["predict", "label"]
    assert config["output"][0]["data_type"] == "TYPE_FP32"
    assert config["output"][1]["data_type"] == "TYPE_INT64"
    assert client.get_model_config(AUTO_MODEL)["name"] == AUTO_MODEL


@pytest.mark.parametrize("batch", [1, 17])
@pytest.mark.parametrize("binary_in", [False, True], ids=["json-in", "binary-in"])
@pytest.mark.parametrize("binary_out", [False, True], ids=["json-out", "binary-out"])
def test_infer_matches_xgboost(client, booster, rows, batch, binary_in, binary_out):
    x = np.ascontiguousarray(rows[:batch])
    want = expected_predict(booster, x)
    outputs = [httpclient.InferRequestedOutput("predict", binary_data=binary_out),
               httpclient.InferRequestedOutput("label", binary_data=binary_out)]
    result = client.infer(MODEL, [fp32_input(x, binary_in)], outputs=outputs)
    got = result.as_numpy("predict")
    assert got.dtype == np.float32
    assert got.shape == (batch,)
    np.testing.assert_array_equal(got, want)
    label = result.as_numpy("label")
    assert label.dtype == np.int64
    np.testing.assert_array_equal(label, expected_label(want))
    response = result.get_response()
    assert response["model_name"] == MODEL
    assert response["model_version"] == "1"
    if binary_out:
        sizes = {o["name"]: o["parameters"]["binary_data_size"] for o in response["outputs"]}
        assert sizes == {"predict": 4 * batch, "label": 8 * batch}


def test_infer_default_outputs(client, booster, rows):
    # No requested outputs: every output, as JSON.
    x = rows[:3]
    result = client.infer(MODEL, [fp32_input(x, False)])
    names = sorted(o["name"] for o in result.get_response()["outputs"])
    assert names == ["label", "predict"]
    np.testing.assert_array_equal(result.as_numpy("predict"), expected_predict(booster, x))


def test_infer_backend_reported_model(client, booster, rows):
    x = rows[:5]
    result = client.infer(AUTO_MODEL, [fp32_input(x, True)],
                          outputs=[httpclient.InferRequestedOutput("predict", binary_data=True)])
    np.testing.assert_array_equal(result.as_numpy("predict"), expected_predict(booster, x))


@pytest.mark.parametrize("binary_out", [False, True], ids=["json-out", "binary-out"])
def test_requested_output_subset(client, booster, rows, binary_out):
    x = rows[:4]
    result = client.infer(MODEL, [fp32_input(x, True)],
                          outputs=[httpclient.InferRequestedOutput("label", binary_data=binary_out)])
    names = [o["name"] for o in result.get_response()["outputs"]]
    assert names == ["label"]
    assert result.as_numpy("predict") is None
    np.testing.assert_array_equal(result.as_numpy("label"), expected_label(expected_predict(booster, x)))


@pytest.mark.parametrize("binary_out", [False, True], ids=["json-out", "binary-out"])
def test_classification_extension(client, booster, rows, binary_out):
    """class_count on a requested output (Triton's classification extension).

    A server advertising "classification" must answer with BYTES
    "score:index" entries (Triton: shape [batch, class_count]); one that does
    not must reject the request. Silently returning the raw tensor is wrong:
    the client then misreads the answer.
    """
    x = rows[:3]
    want = expected_predict(booster, x)
    extensions = client.get_server_metadata().get("extensions", [])
    request = [httpclient.InferRequestedOutput("predict", binary_data=binary_out, class_count=1)]
    if "classification" not in extensions:
        with pytest.raises(InferenceServerException):
            client.infer(MODEL, [fp32_input(x, True)], outputs=request)
        return
    result = client.infer(MODEL, [fp32_input(x, True)], outputs=request)
    (out,) = result.get_response()["outputs"]
    assert out["datatype"] == "BYTES", f"classification ignored: {out}"
    assert out["shape"] in ([3, 1], [3]), out
    entries = [e.decode() if isinstance(e, bytes) else str(e) for e in result.as_numpy("predict").reshape(-1)]
    for entry, p in zip(entries, want):
        score, index = entry.split(":")[:2]
        assert index == "0", entries
        assert float(score) == pytest.approx(float(p), rel=1e-6), entries


def test_request_id_round_trip(client, rows):
    result = client.infer(MODEL, [fp32_input(rows[:1], False)], request_id="req-42/ü")
    assert result.get_response()["id"] == "req-42/ü"


def test_explicit_version(client, booster, rows):
    x = rows[:2]
    result = client.infer(MODEL, [fp32_input(x, True)], model_version="1")
    assert result.get_response()["model_version"] == "1"
    np.testing.assert_array_equal(result.as_numpy("predict"), expected_predict(booster, x))
    with pytest.raises(InferenceServerException):
        client.infer(MODEL, [fp32_input(x, True)], model_version="7")


def _error_message(excinfo) -> str:
    e = excinfo.value
    return f"{e.message()} {e.status() or ''}"


def test_wrong_input_name(client, rows):
    with pytest.raises(InferenceServerException) as excinfo:
        client.infer(MODEL, [fp32_input(rows[:1], False, name="features")])
    assert "features" in _error_message(excinfo) or "input-0" in _error_message(excinfo)


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_wrong_shape(client, rows, binary):
    x = np.ascontiguousarray(rows[:2, : FEATURES - 1])
    with pytest.raises(InferenceServerException) as excinfo:
        client.infer(MODEL, [fp32_input(x, binary)])
    assert "input-0" in _error_message(excinfo)


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_wrong_datatype(client, rows, binary):
    x = rows[:2].astype(np.float64)
    inp = httpclient.InferInput("input-0", list(x.shape), "FP64")
    inp.set_data_from_numpy(x, binary_data=binary)
    with pytest.raises(InferenceServerException) as excinfo:
        client.infer(MODEL, [inp])
    assert "input-0" in _error_message(excinfo)


def test_unknown_output(client, rows):
    with pytest.raises(InferenceServerException) as excinfo:
        client.infer(MODEL, [fp32_input(rows[:1], True)],
                     outputs=[httpclient.InferRequestedOutput("no-such-output")])
    assert "no-such-output" in _error_message(excinfo)


def test_unknown_model(client, rows):
    with pytest.raises(InferenceServerException):
        client.infer("no-such-model", [fp32_input(rows[:1], True)])
    with pytest.raises(InferenceServerException):
        client.get_model_metadata("no-such-model")
    with pytest.raises(InferenceServerException):
        client.get_model_config("no-such-model")


def test_server_healthy_after_errors(client, booster, rows):
    assert client.is_server_live()
    assert client.is_server_ready()
    x = rows[:1]
    np.testing.assert_array_equal(client.infer(MODEL, [fp32_input(x, True)]).as_numpy("predict"),
                                  expected_predict(booster, x))


def _success(stats: dict, model: str) -> tuple[int, int]:
    entries = [s for s in stats["model_stats"] if s["name"] == model]
    assert entries, stats
    success = sum(int(s["inference_stats"]["success"]["count"]) for s in entries)
    inferences = sum(int(s["inference_count"]) for s in entries)
    return success, inferences


def test_inference_statistics(client, rows):
    before = client.get_inference_statistics(MODEL)
    assert {s["name"] for s in before["model_stats"]} == {MODEL}
    s0, n0 = _success(before, MODEL)
    for batch in (1, 17, 2):
        client.infer(MODEL, [fp32_input(rows[:batch], True)])
    after = client.get_inference_statistics(MODEL)
    s1, n1 = _success(after, MODEL)
    assert s1 - s0 == 3          # requests
    assert n1 - n0 == 1 + 17 + 2  # rows (Triton counts each batch element)
    entry = [s for s in after["model_stats"] if s["name"] == MODEL][0]
    assert entry["version"] == "1"
    assert int(entry["inference_stats"]["success"]["ns"]) > 0
    assert int(entry["execution_count"]) >= 1
    # All models.
    every = client.get_inference_statistics()
    assert {MODEL, AUTO_MODEL} <= {s["name"] for s in every["model_stats"]}


def test_repository_index_unload_load(client, booster, rows):
    index = {e["name"]: e for e in client.get_model_repository_index()}
    assert set(index) == {MODEL, AUTO_MODEL}
    assert index[MODEL]["state"] == "READY"
    assert index[AUTO_MODEL]["state"] == "READY"

    client.unload_model(AUTO_MODEL)
    assert not client.is_model_ready(AUTO_MODEL)
    with pytest.raises(InferenceServerException):
        client.infer(AUTO_MODEL, [fp32_input(rows[:1], True)])
    index = {e["name"]: e for e in client.get_model_repository_index()}
    assert index[AUTO_MODEL]["state"] != "READY"
    assert index[MODEL]["state"] == "READY"
    # The other model keeps serving.
    assert client.is_model_ready(MODEL)

    client.load_model(AUTO_MODEL)
    assert client.is_model_ready(AUTO_MODEL)
    x = rows[:3]
    np.testing.assert_array_equal(client.infer(AUTO_MODEL, [fp32_input(x, True)]).as_numpy("predict"),
                                  expected_predict(booster, x))
    index = {e["name"]: e for e in client.get_model_repository_index()}
    assert index[AUTO_MODEL]["state"] == "READY"

    with pytest.raises(InferenceServerException):
        client.load_model("no-such-model")


def test_partitioned_io_layout_serves_concurrent_clients(repository, booster, rows, tmp_path):
    """`--io-layout partitioned` (one io_context per I/O thread): several tritonclient
    connections at once, every answer equal to xgboost's own."""
    from concurrent.futures import ThreadPoolExecutor

    from .harness import serve_fixture

    fixture = serve_fixture(tmp_path, ["--model-repository", str(repository), "--no-access-log",
                                       "--io-layout", "partitioned", "--workers", "2"])
    srv = next(fixture)
    try:
        def client_loop(k: int) -> int:
            c = httpclient.InferenceServerClient(url=srv.http_target, network_timeout=30.0)
            try:
                for i in range(25):
                    x = np.ascontiguousarray(rows[(k + i) % 20:(k + i) % 20 + 1 + i % 3])
                    got = c.infer(MODEL, [fp32_input(x, i % 2 == 0)]).as_numpy("predict")
                    np.testing.assert_array_equal(got, expected_predict(booster, x))
                return 25
            finally:
                c.close()

        with ThreadPoolExecutor(max_workers=6) as pool:
            assert sum(pool.map(client_loop, range(6))) == 150
    finally:
        next(fixture, None)
