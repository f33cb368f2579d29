"""Triton's perf_analyzer (the binary bundled in the tritonclient 2.50.0 wheel)
against `ferry serve`, over HTTP and gRPC.

perf_analyzer reads the model's metadata and config, generates random FP32
input for input-0 and drives the server at concurrency 1 and 3. Only that it
completes and measures a throughput is checked: no timing thresholds on a
shared 2-core machine.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from .harness import MODEL

pytestmark = pytest.mark.timeout(120)

PERF_ANALYZER = Path(sys.executable).parent / "perf_analyzer"
CUDART_DIR = Path(sysconfig.get_paths()["purelib"]) / "nvidia" / "cuda_runtime" / "lib"
RESULT = re.compile(r"Concurrency:\s*(\d+),\s*throughput:\s*([0-9.eE+]+)\s*infer/sec")


def perf_env() -> dict[str, str]:
    env = dict(os.environ)
    # libcudart.so.12 from nvidia-cuda-runtime-cu12; perf_analyzer links it
    # even when no GPU is used.
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        p for p in (str(CUDART_DIR), os.environ.get("LD_LIBRARY_PATH", "")) if p)
    return env


@pytest.fixture(scope="module", autouse=True)
def _perf_analyzer_runs():
    if not PERF_ANALYZER.exists():
        pytest.fail(f"{PERF_ANALYZER} missing: the serving venv must have tritonclient[all]==2.50.0")
    probe = subprocess.run([str(PERF_ANALYZER), "--version"], env=perf_env(),
                           capture_output=True, text=True, timeout=30)
    if "error while loading shared libraries" in probe.stderr:
        pytest.fail(f"perf_analyzer cannot start (libb64-0d / libcudart missing?): {probe.stderr.strip()}")


def run_perf_analyzer(target: str, protocol: str, tmp_path: Path) -> dict[int, float]:
    cmd = [
        str(PERF_ANALYZER),
        "-m", MODEL,
        "-u", target,
        "-i", protocol,
        "-b", "1",
        "--concurrency-range", "1:4:2",
        "--measurement-interval", "1000",
        # Stable enough for any machine: this checks protocol compatibility,
        # not performance.
        "--stability-percentage", "100",
        "--max-trials", "10",
        "-f", str(tmp_path / f"perf-{protocol}.csv"),
    ]
    proc = subprocess.run(cmd, env=perf_env(), capture_output=True, text=True, timeout=100)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{output[-4000:]}"
    results = {int(c): float(t) for c, t in RESULT.findall(output)}
    assert results, f"no 'Concurrency: N, throughput: X infer/sec' line:\n{output[-4000:]}"
    return results


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_perf_analyzer(repo_server, protocol, tmp_path):
    target = repo_server.http_target if protocol == "http" else repo_server.grpc_target
    results = run_perf_analyzer(target, protocol, tmp_path)
    assert set(results) == {1, 3}, results
    assert all(t > 0 for t in results.values()), results
    csv = (tmp_path / f"perf-{protocol}.csv").read_text()
    assert csv.startswith("Concurrency"), csv[:200]
    assert repo_server.alive()
