"""tritonclient.grpc (Triton's own Python client) against `ferry serve`'s gRPC port.

Same repository and model as test_triton_http.py. The gRPC client sends tensors
as raw_input_contents; typed contents (fp32_contents) are checked with the
generated stub from tritonclient.grpc.service_pb2_grpc.
"""

from __future__ import annotations

import queue

import grpc
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from .harness import AUTO_MODEL, FEATURES, MODEL, expected_label, expected_predict

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def client(repo_server):
    c = grpcclient.InferenceServerClient(url=repo_server.grpc_target)
    yield c
    c.close()


def fp32_input(x: np.ndarray, name: str = "input-0") -> grpcclient.InferInput:
    inp = grpcclient.InferInput(name, list(x.shape), "FP32")
    inp.set_data_from_numpy(np.ascontiguousarray(x))
    return inp


def status_of(excinfo) -> str:
    return str(excinfo.value.status())


def test_health(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready(MODEL)
    assert client.is_model_ready(MODEL, "1")
    assert not client.is_model_ready("no-such-model")


def test_server_metadata(client):
    md = client.get_server_metadata(as_json=True)
    assert md["name"]
    assert md["version"]


def test_model_metadata(client):
    md = client.get_model_metadata(MODEL, as_json=True)
    assert md["name"] == MODEL
    assert "1" in md["versions"]
    (inp,) = md["inputs"]
    assert inp["name"] == "input-0"
    assert inp["datatype"] == "FP32"
    assert [int(d) for d in inp["shape"]] == [-1, FEATURES]  # int64 -> JSON strings
    outputs = {o["name"]: (o["datatype"], [int(d) for d in o["shape"]]) for o in md["outputs"]}
    assert outputs == {"predict": ("FP32", [-1]), "label": ("INT64", [-1])}
    auto = client.get_model_metadata(AUTO_MODEL)
    assert [(i.name, i.datatype, list(i.shape)) for i in auto.inputs] == [("input-0", "FP32", [-1, FEATURES])]


def test_model_config(client):
    config = client.get_model_config(MODEL, as_json=True)["config"]
    assert config["name"] == MODEL
    assert int(config["max_batch_size"]) == 64
    assert config["input"][0]["name"] == "input-0"
    assert config["input"][0]["data_type"] == "TYPE_FP32"
    assert [int(d) for d in config["input"][0]["dims"]] == [FEATURES]
    assert [o["name"] for o in config["output"]] == ["predict", "label"]


@pytest.mark.parametrize("batch", [1, 17])
def test_infer_matches_xgboost(client, booster, rows, batch):
    x = rows[:batch]
    want = expected_predict(booster, x)
    result = client.infer(MODEL, [fp32_input(x)],
                          outputs=[grpcclient.InferRequestedOutput("predict"),
                                   grpcclient.InferRequestedOutput("label")],
                          request_id=f"grpc-{batch}")
    got = result.as_numpy("predict")
    assert got.dtype == np.float32 and got.shape == (batch,)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(result.as_numpy("label"), expected_label(want))
    response = result.get_response()
    assert response.id == f"grpc-{batch}"
    assert response.model_name == MODEL
    assert response.model_version == "1"


def test_infer_default_and_subset_outputs(client, booster, rows):
    x = rows[:3]
    every = client.infer(MODEL, [fp32_input(x)])
    assert sorted(o.name for o in every.get_response().outputs) == ["label", "predict"]
    np.testing.assert_array_equal(every.as_numpy("predict"), expected_predict(booster, x))
    subset = client.infer(MODEL, [fp32_input(x)], outputs=[grpcclient.InferRequestedOutput("label")])
    assert [o.name for o in subset.get_response().outputs] == ["label"]
    assert subset.as_numpy("predict") is None


def test_classification_extension(client, booster, rows):
    """class_count (Triton's classification extension): BYTES "score:index" or an error."""
    x = rows[:3]
    want = expected_predict(booster, x)
    request = [grpcclient.InferRequestedOutput("predict", class_count=1)]
    if "classification" not in client.get_server_metadata().extensions:
        with pytest.raises(InferenceServerException):
            client.infer(MODEL, [fp32_input(x)], outputs=request)
        return
    result = client.infer(MODEL, [fp32_input(x)], outputs=request)
    (out,) = result.get_response().outputs
    assert out.datatype == "BYTES", f"classification ignored: {out}"
    entries = [e.decode() for e in result.as_numpy("predict").reshape(-1)]
    for entry, p in zip(entries, want):
        score, index = entry.split(":")[:2]
        assert index == "0", entries
        assert float(score) == pytest.approx(float(p), rel=1e-6), entries


def test_typed_contents_with_raw_stub(repo_server, booster, rows):
    """fp32_contents instead of raw_input_contents; the answer may be either form."""
    x = rows[:5]
    with grpc.insecure_channel(repo_server.grpc_target) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        request = service_pb2.ModelInferRequest(model_name=MODEL, id="typed")
        tensor = request.inputs.add(name="input-0", datatype="FP32", shape=list(x.shape))
        tensor.contents.fp32_contents.extend(x.reshape(-1).tolist())
        response = stub.ModelInfer(request, timeout=30)
    assert response.id == "typed"
    outputs = {o.name: (i, o) for i, o in enumerate(response.outputs)}
    i, predict = outputs["predict"]
    if response.raw_output_contents:
        got = np.frombuffer(response.raw_output_contents[i], dtype=np.float32)
    else:
        got = np.asarray(predict.contents.fp32_contents, dtype=np.float32)
    np.testing.assert_array_equal(got.reshape(list(predict.shape)), expected_predict(booster, x))


def test_wrong_input_name(client, rows):
    with pytest.raises(InferenceServerException) as excinfo:
        client.infer(MODEL, [fp32_input(rows[:1], name="features")])
    assert "INVALID_ARGUMENT" in status_of(excinfo)
    assert "features" in excinfo.value.message() or "input-0" in excinfo.value.message()


def test_wrong_shape(client, rows):
    with pytest.raises(InferenceServerException) as excinfo:
        client.infer(MODEL, [fp32_input(rows[:2, : FEATURES - 1])])
    assert "INVALID_ARGUMENT" in status_of(excinfo)
    assert "input-0" in excinfo.value.message()


def test_wrong_datatype(client, rows):
    x = rows[:2].astype(np.float64)
    inp = grpcclient.InferInput("input-0", list(x.shape), "FP64")
    inp.set_data_from_numpy(x)
    with pytest.raises(InferenceServerException) as excinfo:
        client.infer(MODEL, [inp])
    assert "INVALID_ARGUMENT" in status_of(excinfo)
    assert "input-0" in excinfo.value.message()


def test_raw_size_mismatch(repo_server):
    """raw_input_contents whose byte size does not match the shape."""
    with grpc.insecure_channel(repo_server.grpc_target) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        request = service_pb2.ModelInferRequest(model_name=MODEL)
        request.inputs.add(name="input-0", datatype="FP32", shape=[2, FEATURES])
        request.raw_input_contents.append(b"\0" * (4 * FEATURES))  # one row's bytes for two rows
        with pytest.raises(grpc.RpcError) as excinfo:
            stub.ModelInfer(request, timeout=30)
    assert excinfo.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "input-0" in excinfo.value.details()


def test_unknown_model(client, rows):
    with pytest.raises(InferenceServerException) as excinfo:
        client.infer("no-such-model", [fp32_input(rows[:1])])
    assert "NOT_FOUND" in status_of(excinfo)
    with pytest.raises(InferenceServerException):
        client.get_model_metadata("no-such-model")


def test_async_infer_concurrent(client, booster, rows):
    results: queue.Queue = queue.Queue()
    batches = [1, 2, 3, 5, 8, 13]
    for n, batch in enumerate(batches):
        client.async_infer(MODEL, [fp32_input(rows[n: n + batch])],
                           callback=lambda result, error, n=n: results.put((n, result, error)),
                           request_id=f"async-{n}")
    seen = set()
    for _ in batches:
        n, result, error = results.get(timeout=30)
        assert error is None, error
        batch = batches[n]
        assert result.get_response().id == f"async-{n}"
        np.testing.assert_array_equal(result.as_numpy("predict"),
                                      expected_predict(booster, rows[n: n + batch]))
        seen.add(n)
    assert seen == set(range(len(batches)))


def test_stream_infer(repo_server, booster, rows):
    # A client of its own: a stream occupies the client until stop_stream().
    c = grpcclient.InferenceServerClient(url=repo_server.grpc_target)
    results: queue.Queue = queue.Queue()
    c.start_stream(callback=lambda result, error: results.put((result, error)))
    try:
        for n in range(4):
            c.async_stream_infer(MODEL, [fp32_input(rows[n: n + 2])], request_id=f"stream-{n}")
        # One request that fails must come back as an error on the stream,
        # not end it.
        c.async_stream_infer(MODEL, [fp32_input(rows[:1], name="wrong")], request_id="stream-bad")
        c.async_stream_infer(MODEL, [fp32_input(rows[10:12])], request_id="stream-after")
        got = {}
        errors = []
        for _ in range(6):
            result, error = results.get(timeout=30)
            if error is not None:
                errors.append(error)
            else:
                got[result.get_response().id] = result.as_numpy("predict")
    finally:
        c.stop_stream()
        c.close()
    assert len(errors) == 1, errors
    assert "wrong" in errors[0].message() or "input-0" in errors[0].message()
    assert set(got) == {"stream-0", "stream-1", "stream-2", "stream-3", "stream-after"}
    for n in range(4):
        np.testing.assert_array_equal(got[f"stream-{n}"], expected_predict(booster, rows[n: n + 2]))
    np.testing.assert_array_equal(got["stream-after"], expected_predict(booster, rows[10:12]))


def test_statistics(client, rows):
    def success(stats):
        return sum(int(s.inference_stats.success.count) for s in stats.model_stats if s.name == MODEL)

    before = success(client.get_inference_statistics(MODEL))
    for batch in (1, 4):
        client.infer(MODEL, [fp32_input(rows[:batch])])
    stats = client.get_inference_statistics(MODEL)
    assert success(stats) - before == 2
    assert {s.name for s in stats.model_stats} == {MODEL}
    as_json = client.get_inference_statistics(MODEL, as_json=True)
    assert as_json["model_stats"][0]["name"] == MODEL


def test_repository_index(client):
    index = client.get_model_repository_index(as_json=True)
    states = {m["name"]: m.get("state") for m in index["models"]}
    assert states == {MODEL: "READY", AUTO_MODEL: "READY"}


def test_unload_load(client, booster, rows):
    client.unload_model(AUTO_MODEL)
    assert not client.is_model_ready(AUTO_MODEL)
    with pytest.raises(InferenceServerException):
        client.infer(AUTO_MODEL, [fp32_input(rows[:1])])
    client.load_model(AUTO_MODEL)
    assert client.is_model_ready(AUTO_MODEL)
    np.testing.assert_array_equal(client.infer(AUTO_MODEL, [fp32_input(rows[:2])]).as_numpy("predict"),
                                  expected_predict(booster, rows[:2]))


def test_live_after_errors(client):
    assert client.is_server_live()
    assert client.is_server_ready()

