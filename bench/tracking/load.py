"""Tracking-server benchmark: Ferry vs `mlflow server`, same client load.

Runs each server in turn on a fresh temp dir (SQLite backend, proxied
artifacts, the server's default worker count) and measures:

  (a) log-batch ingestion, metrics/s: 8 client processes, 1000 metrics per
      POST /api/2.0/mlflow/runs/log-batch
  (b) log-metric calls/s: 8 client processes, POST /api/2.0/mlflow/runs/log-metric
  (c) search_runs latency p50/p99 over N runs (5 params, 5 metrics, 3 tags
      each, populated through the API with runs/create + runs/log-batch) for
      `metrics.x > ? AND params.y = ?` ordered by a metric, max_results 100
  (d) server RSS after the load: VmRSS summed over the server process and all
      its descendants (uvicorn/gunicorn workers, job runners)

Clients speak raw HTTP/1.1 with keep-alive (http.client), one connection per
process, so client-side overhead is as small as Python allows. Every phase is
bounded in time; populating is bounded by --populate-budget-s, and if a
server does not reach N runs in that budget the run count it reached is
reported and the other server is also measured at that count, so the ratio
always compares equal N.

Prints a Markdown table; --json writes the raw figures.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CLIENTS = 8
BATCH_POOL = 300  # pre-serialised log-batch bodies per client process
BATCH_METRICS = 1000
API = "/api/2.0/mlflow"


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    kind: str  # "ferry" | "mlflow"
    command: list[str]
    workdir: Path
    port: int
    proc: subprocess.Popen | None = None

    @property
    def db_path(self) -> Path:
        return self.workdir / "tracking.db"

    def start(self, timeout_s: float = 120.0) -> None:
        (self.workdir / "artifacts").mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / "server.log", "ab")
        env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
        self.proc = subprocess.Popen(
            self.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=self.workdir, env=env, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited at start-up:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"{self.kind} not healthy after {timeout_s}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()

    def rss_bytes(self) -> tuple[int, int]:
        """(VmRSS summed over the server and every descendant process, process count)."""
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
        total, count, todo = 0, 0, [self.proc.pid]
        while todo:
            pid = todo.pop()
            todo.extend(children.get(pid, []))
            count += 1
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except OSError:
                pass
        return total, count

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join((self.workdir / "server.log").read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


def make_server(kind: str, workdir: Path, ferry_bin: str, mlflow_bin: str) -> Server:
    port = free_port()
    flags = [
        "server", "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{workdir / 'tracking.db'}",
        "--artifacts-destination", str(workdir / "artifacts"),
    ]
    exe = ferry_bin if kind == "ferry" else mlflow_bin
    return Server(kind=kind, command=[exe, *flags], workdir=workdir, port=port)


# --------------------------------------------------------------------------- HTTP


class Conn:
    """One keep-alive HTTP/1.1 connection; reconnects if the server closed it."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, payload: dict | None = None) -> dict:
        status, body = self.call(method, path, json.dumps(payload).encode() if payload is not None else None)
        if status != 200:
            raise RuntimeError(f"{method} {path} -> {status}: {body[:300]!r}")
        return json.loads(body) if body else {}


def create_experiment(port: int, name: str) -> str:
    return Conn(port).json("POST", f"{API}/experiments/create", {"name": name})["experiment_id"]


def create_run(c: Conn, exp_id: str, start_time: int, name: str = "", tags=()) -> str:
    payload = {"experiment_id": exp_id, "start_time": start_time, "tags": list(tags)}
    if name:
        payload["run_name"] = name
    return c.json("POST", f"{API}/runs/create", payload)["run"]["info"]["run_id"]


# --------------------------------------------------------------------------- workers
# Each worker runs in its own process, waits on the barrier so that all start
# together, works until the deadline, and reports (acknowledged units, errors).


def _batch_worker(port, run_id, seconds, barrier, out):
    c = Conn(port)
    keys = [f"m{k}" for k in range(100)]
    per_key = BATCH_METRICS // len(keys)
    # Bodies are serialised before the clock starts, the same for every
    # server, so the figure measures the server rather than Python's json
    # module on the 2 cores the server also needs. Steps keep increasing;
    # a worker that exhausts the pool starts over (metrics append either way).
    ts = int(time.time() * 1000)
    bodies = []
    for b in range(BATCH_POOL):
        metrics = [
            {"key": keys[k], "value": random.random(), "timestamp": ts, "step": b * per_key + s}
            for s in range(per_key)
            for k in range(len(keys))
        ]
        bodies.append(json.dumps({"run_id": run_id, "metrics": metrics}).encode())
    done = errors = 0
    i = 0
    barrier.wait()
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        status, _ = c.call("POST", f"{API}/runs/log-batch", bodies[i % len(bodies)])
        i += 1
        if status == 200:
            done += BATCH_METRICS
        else:
            errors += 1
    out.put((done, errors))


def _metric_worker(port, run_id, seconds, barrier, out):
    c = Conn(port)
    done = errors = 0
    step = 0
    barrier.wait()
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        body = json.dumps(
            {"run_id": run_id, "key": "loss", "value": random.random(),
             "timestamp": int(time.time() * 1000), "step": step}
        ).encode()
        step += 1
        status, _ = c.call("POST", f"{API}/runs/log-metric", body)
        if status == 200:
            done += 1
        else:
            errors += 1
    out.put((done, errors))


Y_VALUES = ["a", "b", "c", "d", "e"]


def _populate_worker(port, exp_id, first, count, stride, deadline, barrier, out):
    """Creates runs first, first+stride, ... (count of them) until the deadline."""
    c = Conn(port)
    rng = random.Random(first)
    done = errors = 0
    barrier.wait()
    for j in range(count):
        if time.time() > deadline:
            break
        i = first + j * stride
        try:
            run_id = create_run(c, exp_id, 1_600_000_000_000 + i, name=f"run-{i}")
            ts = int(time.time() * 1000)
            payload = {
                "run_id": run_id,
                "metrics": [{"key": "x", "value": rng.random(), "timestamp": ts, "step": 0}]
                + [{"key": f"m{k}", "value": rng.random(), "timestamp": ts, "step": 0} for k in range(1, 5)],
                "params": [{"key": "y", "value": rng.choice(Y_VALUES)}]
                + [{"key": f"p{k}", "value": str(rng.randint(0, 1000))} for k in range(1, 5)],
                "tags": [{"key": f"t{k}", "value": f"v{rng.randint(0, 9)}"} for k in range(3)],
            }
            c.json("POST", f"{API}/runs/log-batch", payload)
            done += 1
        except Exception:
            errors += 1
    out.put((done, errors))


def run_parallel(target, args_per_worker) -> tuple[int, int, float]:
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    barrier = ctx.Barrier(len(args_per_worker) + 1)
    procs = [ctx.Process(target=target, args=(*a, barrier, out)) for a in args_per_worker]
    for p in procs:
        p.start()
    barrier.wait()
    t0 = time.monotonic()
    results = [out.get() for _ in procs]
    elapsed = time.monotonic() - t0
    for p in procs:
        p.join()
    return sum(r[0] for r in results), sum(r[1] for r in results), elapsed


# --------------------------------------------------------------------------- phases


@dataclass
class Result:
    kind: str
    version: str = ""
    batch_metrics_per_s: float = 0.0
    batch_errors: int = 0
    log_metric_per_s: float = 0.0
    log_metric_errors: int = 0
    populate_runs: int = 0
    populate_runs_per_s: float = 0.0
    populate_errors: int = 0
    search: dict = field(default_factory=dict)  # runs -> {"p50_ms", "p99_ms", "queries", "mean_hits"}
    rss_bytes: int = 0
    processes: int = 0


def measure_search(port: int, exp_id: str, queries: int, budget_s: float, seed: int) -> dict:
    c = Conn(port)
    rng = random.Random(seed)
    lat, hits = [], []
    t_end = time.monotonic() + budget_s
    # One warm-up query so connection set-up and first-query caches are not timed.
    c.json("POST", f"{API}/runs/search", {"experiment_ids": [exp_id], "max_results": 1})
    for _ in range(queries):
        if time.monotonic() > t_end:
            break
        payload = {
            "experiment_ids": [exp_id],
            "filter": f"metrics.x > {rng.uniform(0.5, 0.99):.4f} AND params.y = '{rng.choice(Y_VALUES)}'",
            "order_by": ["metrics.m1 DESC"],
            "max_results": 100,
            "run_view_type": "ACTIVE_ONLY",
        }
        t0 = time.perf_counter()
        doc = c.json("POST", f"{API}/runs/search", payload)
        lat.append((time.perf_counter() - t0) * 1000)
        hits.append(len(doc.get("runs", [])))
    lat.sort()
    return {
        "queries": len(lat),
        "p50_ms": statistics.median(lat),
        "p99_ms": lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))],
        "mean_hits": statistics.mean(hits),
    }


def bench_server(server: Server, args, checkpoints: list[int]) -> Result:
    res = Result(kind=server.kind)
    port = server.port
    log = lambda msg: print(f"[{server.kind}] {msg}", file=sys.stderr, flush=True)  # noqa: E731

    exp = create_experiment(port, "bench-ingest")
    c = Conn(port)
    now = int(time.time() * 1000)

    runs = [create_run(c, exp, now) for _ in range(CLIENTS)]
    log(f"(a) log-batch, {CLIENTS} clients x {BATCH_METRICS} metrics, {args.phase_s}s")
    done, errors, elapsed = run_parallel(_batch_worker, [(port, r, args.phase_s) for r in runs])
    res.batch_metrics_per_s, res.batch_errors = done / elapsed, errors
    log(f"    {res.batch_metrics_per_s:,.0f} metrics/s ({errors} errors)")

    runs = [create_run(c, exp, now) for _ in range(CLIENTS)]
    log(f"(b) log-metric, {CLIENTS} clients, {args.phase_s}s")
    done, errors, elapsed = run_parallel(_metric_worker, [(port, r, args.phase_s) for r in runs])
    res.log_metric_per_s, res.log_metric_errors = done / elapsed, errors
    log(f"    {res.log_metric_per_s:,.0f} calls/s ({errors} errors)")

    search_exp = create_experiment(port, "bench-search")
    created = 0
    populate_time = 0.0
    for target in checkpoints:
        need = target - created
        if need <= 0:
            continue
        budget_left = args.populate_budget_s - populate_time
        if budget_left <= 0:
            break
        log(f"(c) populating runs {created}..{target} ({CLIENTS} clients, {budget_left:.0f}s budget left)")
        deadline = time.time() + budget_left
        per = [need // CLIENTS + (1 if w < need % CLIENTS else 0) for w in range(CLIENTS)]
        # Worker w creates indices created+w, created+w+8, ... so the set is dense if all finish.
        done, errors, elapsed = run_parallel(
            _populate_worker,
            [(port, search_exp, created + w, per[w], CLIENTS, deadline) for w in range(CLIENTS)],
        )
        created += done
        populate_time += elapsed
        res.populate_errors += errors
        log(f"    {created} runs after {populate_time:.0f}s ({done / elapsed:,.0f} runs/s, {errors} errors)")
        log(f"(c) search over {created} runs: up to {args.queries} queries, {args.search_budget_s}s budget")
        s = measure_search(port, search_exp, args.queries, args.search_budget_s, seed=created)
        res.search[created] = s
        log(f"    p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms over {s['queries']} queries, "
            f"{s['mean_hits']:.0f} hits/query")
        if created < target:
            break  # budget ran out
    res.populate_runs = created
    res.populate_runs_per_s = created / populate_time if populate_time else 0.0

    res.rss_bytes, res.processes = server.rss_bytes()
    log(f"(d) RSS after load {res.rss_bytes / 2**20:.0f} MiB in {res.processes} processes")
    return res


# --------------------------------------------------------------------------- report


def fmt(v: float | None, unit: str = "") -> str:
    if v is None:
        return "n/a"
    if v >= 100:
        return f"{v:,.0f}{unit}"
    return f"{v:.1f}{unit}"


def ratio(a: float | None, b: float | None, lower_is_better: bool = False) -> str:
    """How many times better Ferry (a) is than MLflow (b), whichever way "better" points."""
    if a is None or b is None or a == 0 or b == 0:
        return "n/a"
    return f"{(b / a if lower_is_better else a / b):.2f}x"


def report(results: dict[str, Result], args) -> str:
    f, m = results.get("ferry"), results.get("mlflow")
    mlflow_label = f"MLflow {m.version}" if m else "MLflow"
    lines = [
        f"| Figure | Ferry | {mlflow_label} | Ferry better by |",
        "|---|---:|---:|---:|",
    ]

    def row(name, getter, unit=""):
        a = getter(f) if f else None
        b = getter(m) if m else None
        lines.append(f"| {name} | {fmt(a, unit)} | {fmt(b, unit)} | {ratio(a, b, 'lower is better' in name)} |")

    row(f"(a) log-batch ingestion, metrics/s ({CLIENTS} clients, {BATCH_METRICS}/batch; higher is better)",
        lambda r: r.batch_metrics_per_s)
    row(f"(b) log-metric calls/s ({CLIENTS} clients; higher is better)", lambda r: r.log_metric_per_s)
    row(f"populate: runs/s via runs/create + log-batch ({CLIENTS} clients; higher is better)",
        lambda r: r.populate_runs_per_s)
    counts = sorted({n for r in results.values() for n in r.search})
    for n in counts:
        def p(key, n=n):
            return lambda r: r.search[n][key] if n in r.search else None
        row(f"(c) search_runs p50 ms @ {n:,} runs (lower is better)", p("p50_ms"))
        row(f"(c) search_runs p99 ms @ {n:,} runs (lower is better)", p("p99_ms"))
    row("(d) server RSS after load, MiB (all processes; lower is better)",
        lambda r: r.rss_bytes / 2**20)

    notes = []
    for r in results.values():
        if r.populate_runs < args.runs:
            others = [o.kind for o in results.values() if o is not r and r.populate_runs in o.search]
            also = (
                f" {', '.join(others)} was also measured there, so that ratio compares equal run counts."
                if others else ""
            )
            notes.append(
                f"- {r.kind}: populated only {r.populate_runs:,} of {args.runs:,} runs within the "
                f"{args.populate_budget_s:.0f}s budget (BENCH_POPULATE_BUDGET_SECONDS); its search "
                f"figures are at that count.{also}"
            )
        notes.append(f"- {r.kind}: RSS is summed over {r.processes} process(es).")
        errs = r.batch_errors + r.log_metric_errors + r.populate_errors
        if errs:
            notes.append(f"- {r.kind}: {errs} non-200 responses during load (not counted).")
    for r in results.values():
        for n, s in r.search.items():
            notes.append(
                f"- {r.kind} @ {n:,} runs: {s['queries']} search queries, {s['mean_hits']:.0f} runs returned on average"
            )
    header = (
        f"Tracking benchmark — {platform.node()}, {os.cpu_count()} cores (clients and server share them), "
        f"phase {args.phase_s}s, BENCH_RUNS={args.runs:,}, populate budget {args.populate_budget_s:.0f}s/server\n"
    )
    return header + "\n" + "\n".join(lines) + ("\n\n" + "\n".join(notes) if notes else "") + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--servers", default="mlflow,ferry", help="comma list, run in this order")
    ap.add_argument("--ferry-bin", required=False, default=os.environ.get("FERRY_BIN", ""))
    ap.add_argument("--mlflow-bin", default=str(Path(sys.executable).parent / "mlflow"))
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "100000")))
    ap.add_argument("--phase-s", type=float, default=float(os.environ.get("BENCH_PHASE_SECONDS", "20")))
    ap.add_argument("--populate-budget-s", type=float,
                    default=float(os.environ.get("BENCH_POPULATE_BUDGET_SECONDS", "900")))
    ap.add_argument("--queries", type=int, default=int(os.environ.get("BENCH_SEARCH_QUERIES", "200")))
    ap.add_argument("--search-budget-s", type=float,
                    default=float(os.environ.get("BENCH_SEARCH_BUDGET_SECONDS", "120")))
    ap.add_argument("--settle-s", type=float, default=float(os.environ.get("BENCH_SETTLE_SECONDS", "10")))
    ap.add_argument("--workdir", default=os.environ.get("BENCH_WORKDIR", ""))
    ap.add_argument("--json", default=os.environ.get("BENCH_JSON", ""))
    args = ap.parse_args()

    kinds = [k for k in args.servers.split(",") if k]
    base = Path(args.workdir or tempfile.mkdtemp(prefix="ferry-bench-"))
    results: dict[str, Result] = {}
    checkpoints = [args.runs]
    try:
        for kind in kinds:
            workdir = base / kind
            shutil.rmtree(workdir, ignore_errors=True)
            workdir.mkdir(parents=True)
            server = make_server(kind, workdir, args.ferry_bin, args.mlflow_bin)
            print(f"[{kind}] starting: {' '.join(server.command)}", file=sys.stderr, flush=True)
            server.start()
            # Let start-up work finish (MLflow 3 spawns job-queue consumers after /health is up).
            time.sleep(args.settle_s)
            try:
                res = bench_server(server, args, checkpoints)
            finally:
                server.stop()
            if kind == "mlflow":
                res.version = subprocess.run(
                    [sys.executable, "-c", "import mlflow; print(mlflow.__version__)"],
                    capture_output=True, text=True, check=True,
                ).stdout.strip()
            results[kind] = res
            # A server that fell short of N sets a checkpoint for the next ones.
            if res.populate_runs < args.runs and res.populate_runs not in checkpoints:
                checkpoints = sorted({*checkpoints, res.populate_runs})
    finally:
        if not args.workdir:
            shutil.rmtree(base, ignore_errors=True)

    table = report(results, args)
    print(table)
    if args.json:
        Path(args.json).write_text(
            json.dumps({k: vars(v) for k, v in results.items()}, indent=2, default=str)
        )


if __name__ == "__main__":
    main()
