"""Artifacts through the server's proxy (mlflow-artifacts:/ URIs)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

ALL_BYTES = bytes(range(256)) * 4


def _make_tree(root: Path) -> dict[str, bytes]:
    """A small directory tree with text, binary, empty and 1 MiB files."""
    files = {
        "README.md": b"# tree\n",
        "data/all_bytes.bin": ALL_BYTES,
        "data/empty.txt": b"",
        "data/nested/deeper/leaf.json": b'{"leaf": true}\n',
        "data/nested/space name.txt": b"file with a space in its name\n",
        "big/random.bin": os.urandom(1 << 20),
    }
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content)
    return files


def _read_tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)).replace(os.sep, "/"): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file()
    }


def test_log_artifact_single_files(client, experiment_id, tmp_path):
    src = tmp_path / "model.txt"
    src.write_bytes(b"weights=1,2,3\n")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(src))
        mlflow.log_artifact(str(src), artifact_path="sub/dir")
    run_id = run.info.run_id

    root = client.list_artifacts(run_id)
    assert [(f.path, f.is_dir) for f in root] == [("model.txt", False), ("sub", True)]
    assert root[0].file_size == 14
    assert [(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id, "sub/dir")] == [
        ("sub/dir/model.txt", False, 14)
    ]

    dst = tmp_path / "dl"
    dst.mkdir()
    local = client.download_artifacts(run_id, "sub/dir/model.txt", str(dst))
    assert Path(local).read_bytes() == b"weights=1,2,3\n"


def test_log_artifacts_tree_roundtrip(client, experiment_id, tmp_path):
    src = tmp_path / "src"
    files = _make_tree(src)
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(src), artifact_path="tree")
    run_id = run.info.run_id

    top = client.list_artifacts(run_id)
    assert [(f.path, f.is_dir) for f in top] == [("tree", True)]
    listing = client.list_artifacts(run_id, "tree")
    assert [(f.path, f.is_dir) for f in listing] == [
        ("tree/README.md", False),
        ("tree/big", True),
        ("tree/data", True),
    ]
    data = {f.path: f for f in client.list_artifacts(run_id, "tree/data")}
    assert sorted(data) == [
        "tree/data/all_bytes.bin",
        "tree/data/empty.txt",
        "tree/data/nested",
    ]
    assert data["tree/data/all_bytes.bin"].file_size == len(ALL_BYTES)
    # Real MLflow omits file_size 0 from the JSON, which the client reads as None.
    assert data["tree/data/empty.txt"].file_size in (0, None)
    assert data["tree/data/nested"].is_dir

    dst = tmp_path / "dst"
    dst.mkdir()
    local = Path(client.download_artifacts(run_id, "tree", str(dst)))
    assert local == dst / "tree"
    assert _read_tree(local) == files

    # Downloading the whole run's artifacts (path "") gives the same tree.
    dst2 = tmp_path / "dst2"
    dst2.mkdir()
    local2 = Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(dst2)))
    assert _read_tree(local2 / "tree") == files


def test_log_text_dict_figure(client, experiment_id, tmp_path):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [0, 1, 4])
    with mlflow.start_run() as run:
        mlflow.log_text("hello\nworld ✓\n", "notes/hello.txt")
        mlflow.log_dict({"a": 1, "b": [1, 2, 3], "c": {"d": "e"}}, "config.json")
        mlflow.log_dict({"lr": 0.1, "layers": [64, 32]}, "config.yaml")
        mlflow.log_figure(fig, "plots/curve.png")
    plt.close(fig)
    run_id = run.info.run_id

    assert mlflow.artifacts.load_text(f"runs:/{run_id}/notes/hello.txt") == "hello\nworld ✓\n"
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/config.json") == {
        "a": 1,
        "b": [1, 2, 3],
        "c": {"d": "e"},
    }
    dst = tmp_path / "dl"
    dst.mkdir()
    raw = Path(client.download_artifacts(run_id, "config.json", str(dst))).read_text()
    assert json.loads(raw) == {"a": 1, "b": [1, 2, 3], "c": {"d": "e"}}
    yml = Path(client.download_artifacts(run_id, "config.yaml", str(dst))).read_text()
    assert yaml.safe_load(yml) == {"lr": 0.1, "layers": [64, 32]}
    png = Path(client.download_artifacts(run_id, "plots/curve.png", str(dst))).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    [entry] = client.list_artifacts(run_id, "plots")
    assert (entry.path, entry.is_dir, entry.file_size) == ("plots/curve.png", False, len(png))


def test_list_artifacts_empty_and_missing(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    assert client.list_artifacts(run_id) == []
    assert client.list_artifacts(run_id, "does/not/exist") == []


def test_overwrite_artifact(client, experiment_id, tmp_path):
    with mlflow.start_run() as run:
        mlflow.log_text("v1", "f.txt")
        mlflow.log_text("version two", "f.txt")
    assert mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/f.txt") == "version two"
    [entry] = client.list_artifacts(run.info.run_id)
    assert entry.file_size == len("version two")


def test_download_missing_artifact_raises(client, experiment_id, tmp_path):
    run_id = client.create_run(experiment_id).info.run_id
    with pytest.raises(Exception):
        client.download_artifacts(run_id, "nope.txt", str(tmp_path))
