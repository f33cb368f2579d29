"""Starting and stopping the tracking server under test.

The server is either Ferry (`$FERRY_BIN server ...`) or, with
COMPAT_SERVER=mlflow, the reference `mlflow server` from the venv running
pytest. Both get the same flags, so a test that passes against MLflow and
fails against Ferry points at Ferry.

Every server runs in its own process group so that kill_hard() takes down
gunicorn/uvicorn workers with their parent, as `kill -9` of a single-process
Ferry does.
"""

from __future__ import annotations

import contextlib
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

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FERRY_BIN = REPO_ROOT / "build" / "release" / "apps" / "ferry" / "ferry"


def server_kind() -> str:
    kind = os.environ.get("COMPAT_SERVER", "ferry")
    if kind not in ("ferry", "mlflow"):
        raise ValueError(f"COMPAT_SERVER must be 'ferry' or 'mlflow', not {kind!r}")
    return kind


def is_mlflow_server() -> bool:
    return server_kind() == "mlflow"


def ferry_bin() -> Path:
    return Path(os.environ.get("FERRY_BIN", str(DEFAULT_FERRY_BIN)))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client_env() -> dict[str, str]:
    """Environment for mlflow client code: no telemetry, no retries.

    Retries are off so that a 5xx from the server fails the test at once
    instead of being hidden behind minutes of backoff.
    """
    return {
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
        "GIT_PYTHON_REFRESH": "quiet",
    }


class ManagedProcess:
    """Stop / kill / log helpers for a server process started in its own process
    group. Subclasses provide `proc`, `log_path` and `exit_code`."""

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM, wait for exit; SIGKILL if it does not exit in time. Returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.exit_code = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill_hard()
            self.exit_code = -signal.SIGKILL
        # Reap any worker left behind in the group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        return self.exit_code

    def kill_hard(self) -> None:
        """kill -9 the whole process group, as a power cut would."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        self.exit_code = self.proc.returncode

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Server(ManagedProcess):
    """A running tracking server. `db_path` and `artifacts_dir` outlive it."""

    kind: str
    port: int
    db_path: Path
    artifacts_dir: Path
    log_path: Path
    proc: subprocess.Popen | None = None
    exit_code: int | None = field(default=None)
    # What clients should use: the server itself, or the recording proxy in front of it.
    tracking_uri: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def command(self) -> list[str]:
        common = [
            "server",
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--backend-store-uri", f"sqlite:///{self.db_path}",
            "--artifacts-destination", str(self.artifacts_dir),
        ]
        if self.kind == "ferry":
            return [str(ferry_bin()), *common]
        mlflow_exe = Path(sys.executable).parent / "mlflow"
        # Two workers: enough concurrency for the tests, half the start-up cost.
        return [str(mlflow_exe), *common, "--workers", os.environ.get("COMPAT_MLFLOW_WORKERS", "2")]

    def start(self, timeout_s: float = 90.0) -> "Server":
        if self.kind == "ferry" and not ferry_bin().exists():
            raise RuntimeError(
                f"Ferry binary {ferry_bin()} does not exist: build it "
                "(scripts/setup.sh) or set FERRY_BIN, or use COMPAT_SERVER=mlflow"
            )
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(client_env())
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=self.artifacts_dir.parent,
            start_new_session=True,
        )
        log.close()
        self.exit_code = None
        self._wait_healthy(timeout_s)
        return self

    def _wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        last_error = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.kind} server exited with {self.proc.returncode} before "
                    f"becoming healthy:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as resp:
                    body = resp.read().decode()
                    if resp.status == 200 and body.strip() == "OK":
                        return
                    last_error = f"status {resp.status} body {body!r}"
            except (urllib.error.URLError, ConnectionError, OSError) as e:
                last_error = str(e)
            time.sleep(0.2)
        self.kill_hard()
        raise RuntimeError(
            f"{self.kind} server not healthy after {timeout_s}s ({last_error}):\n{self.log_tail()}"
        )


def make_server(workdir: Path, kind: str | None = None, port: int | None = None) -> Server:
    workdir.mkdir(parents=True, exist_ok=True)
    return Server(
        kind=kind or server_kind(),
        port=port or free_port(),
        db_path=workdir / "tracking.db",
        artifacts_dir=workdir / "artifacts",
        log_path=workdir / "server.log",
    )
