"""Serving benchmark driver (stdlib only; run.sh builds and prepares first).

For each server configuration, one at a time on 127.0.0.1 with free ports:
  1. cold start: spawn the process and poll every 5 ms until it is ready
     (GET /v2/health/ready == 200, and for MLServer also
     GET /v2/models/<m>/ready == 200); repeated --cold-repeats times, the
     median is reported and the last process is kept for the load;
  2. RSS at ready: VmRSS of the server process plus all its descendants
     (MLServer's inference workers; shared pages are counted once per process);
  3. one checked request: HTTP 200 and, for model servers, the "predict"
     value equal to what xgboost computed at training time (1e-4);
  4. per concurrency: a 2 s wrk warm-up, then wrk -t min(2,c) -c c -d D
     --latency with infer.lua; req/s, p50, p99 and errors (non-2xx + socket);
     for Ferry also the mean batch executed (GET /v2/models/<m>/stats:
     inference_count / execution_count over the measured run);
     plus the server's CPU time per request (utime+stime of its process tree
     over the measured run / requests): less sensitive than req/s to other
     load on the machine;
  5. RSS after the load, then SIGTERM to the server's process group.

wrk and the server share the machine's cores (no pinning): on a 2-core box the
client costs the server part of its CPU, identically for every server.

Prints Markdown tables and the goal ratios; --json writes the raw figures.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

MODEL = "xgb"
POLL_S = 0.005
READY_TIMEOUT_S = 180.0

GOAL_RPS_VS_MLSERVER = 20.0
GOAL_P99_VS_MLSERVER = 10.0
GOAL_VS_FLOOR = 0.70
GOAL_COLD_START_MS = 200.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(port: int, method: str, path: str, body: bytes | None = None,
                timeout: float = 2.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, split after ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def rss_mib(root: int) -> float:
    total_kib = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total_kib += int(line.split()[1])
                        break
        except OSError:
            pass
    return total_kib / 1024.0


def cpu_seconds(root: int) -> float:
    """utime + stime of the process and its live descendants."""
    ticks = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        except (OSError, IndexError, ValueError):
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- servers


@dataclass
class Config:
    name: str           # row label
    kind: str           # ferry | mlserver | const
    note: str = ""
    mlserver_workers: int | None = None   # None: MLServer's default
    ferry_repo: str = ""
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Running:
    proc: subprocess.Popen
    port: int
    log_path: Path


class Launcher:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.model_dir: Path = args.model_dir
        self.work: Path = args.work_dir
        self.work.mkdir(parents=True, exist_ok=True)

    def command(self, cfg: Config, port: int) -> tuple[list[str], Path]:
        a = self.args
        if cfg.kind == "const":
            return [str(a.const_bin), "--host", "127.0.0.1", "--port", str(port),
                    "--threads", str(a.const_threads)] + cfg.extra_args, self.work
        if cfg.kind == "ferry":
            cmd = [str(a.ferry_bin), "serve", "--host", "127.0.0.1", "--http-port", str(port),
                   "--grpc-port", str(free_port()),
                   "--model-repository", str(self.model_dir / cfg.ferry_repo), "--no-access-log"]
            return cmd + cfg.extra_args, self.work
        # MLServer: a settings.json with free ports next to the model folder.
        run_dir = self.work / f"mlserver-{cfg.name}"
        (run_dir / MODEL).mkdir(parents=True, exist_ok=True)
        for f in ("model.json", "model-settings.json"):
            src = self.model_dir / "mlserver" / MODEL / f
            (run_dir / MODEL / f).write_bytes(src.read_bytes())
        metrics_dir = run_dir / "metrics"
        metrics_dir.mkdir(exist_ok=True)
        settings = {
            "debug": False,
            "host": "127.0.0.1",
            "http_port": port,
            "grpc_port": free_port(),
            "metrics_port": free_port(),
            "metrics_dir": str(metrics_dir),
            "load_models_at_startup": True,
        }
        if cfg.mlserver_workers is not None:
            settings["parallel_workers"] = cfg.mlserver_workers
        (run_dir / "settings.json").write_text(json.dumps(settings, indent=2) + "\n")
        return [str(a.mlserver_bin), "start", str(run_dir)] + cfg.extra_args, run_dir

    def start(self, cfg: Config) -> tuple[Running, float]:
        """Spawns the server and returns it with the ms until it is ready."""
        port = free_port()
        cmd, cwd = self.command(cfg, port)
        log_path = self.work / f"{cfg.name}.log"
        log = open(log_path, "ab")
        log.write(f"\n=== {shlex.join(cmd)}\n".encode())
        log.flush()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=cwd, env=dict(os.environ, **cfg.env), start_new_session=True)
        log.close()
        running = Running(proc, port, log_path)
        paths = ["/v2/health/ready"]
        if cfg.kind == "mlserver":
            paths.append(f"/v2/models/{MODEL}/ready")
        deadline = t0 + READY_TIMEOUT_S
        while paths:
            if proc.poll() is not None:
                raise RuntimeError(f"{cfg.name} exited with {proc.returncode} before ready "
                                   f"(log: {log_path})")
            if time.perf_counter() > deadline:
                self.stop(running)
                raise RuntimeError(f"{cfg.name} not ready after {READY_TIMEOUT_S:.0f} s (log: {log_path})")
            try:
                if http_status(port, "GET", paths[0], timeout=1.0)[0] == 200:
                    paths.pop(0)
                    continue
            except OSError:
                pass
            time.sleep(POLL_S)
        return running, (time.perf_counter() - t0) * 1000.0

    @staticmethod
    def stop(running: Running) -> None:
        proc = running.proc
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def check_response(cfg: Config, port: int, body: bytes, expected: float) -> None:
    status, data = http_status(port, "POST", f"/v2/models/{MODEL}/infer", body, timeout=10.0)
    if status != 200:
        raise RuntimeError(f"{cfg.name}: infer answered {status}: {data[:300]!r}")
    if cfg.kind == "const":
        return
    doc = json.loads(data)
    outputs = {o["name"]: o for o in doc.get("outputs", [])}
    if "predict" not in outputs:
        raise RuntimeError(f"{cfg.name}: no 'predict' output in {data[:300]!r}")
    got = float(outputs["predict"]["data"][0])
    if abs(got - expected) > 1e-4:
        raise RuntimeError(f"{cfg.name}: predict = {got}, xgboost computed {expected}")


def model_counts(port: int) -> tuple[int, int] | None:
    """(inference_count, execution_count) from Ferry's/Triton's stats endpoint."""
    try:
        status, data = http_status(port, "GET", f"/v2/models/{MODEL}/stats", timeout=5.0)
        if status != 200:
            return None
        stats = json.loads(data)["model_stats"]
        return (sum(int(m.get("inference_count", 0)) for m in stats),
                sum(int(m.get("execution_count", 0)) for m in stats))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def run_wrk(args: argparse.Namespace, port: int, conc: int, duration_s: float) -> dict:
    url = f"http://127.0.0.1:{port}/v2/models/{MODEL}/infer"
    seconds = max(1, round(duration_s))  # wrk takes whole seconds
    cmd = ["wrk", f"-t{min(2, conc)}", f"-c{conc}", f"-d{seconds}s", "--latency",
           "--timeout", "10s", "-s", str(args.lua), url, "--", str(args.body)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            result = json.loads(line[len("BENCH_RESULT "):])
            result["errors"] = sum(v for k, v in result.items() if k.startswith("errors_"))
            return result
    raise RuntimeError(f"wrk gave no result (rc {out.returncode}): {out.stdout[-500:]} {out.stderr[-500:]}")


# --------------------------------------------------------------------------- report


def fmt_ms(us: float | None) -> str:
    return "n/a" if us is None else f"{us / 1000.0:.2f}"


def fmt_ratio(x: float | None, goal: float | None = None, higher_better: bool = True) -> str:
    if x is None:
        return "n/a"
    s = f"{x:.2f}x" if x < 100 else f"{x:.0f}x"
    if goal is not None:
        ok = x >= goal if higher_better else x <= goal
        s += " (met)" if ok else " (not met)"
    return s


def report(results: dict, args: argparse.Namespace) -> str:
    lines: list[str] = []
    rows = results["rows"]
    lines.append(f"Serving benchmark: XGBoost 100 trees depth 6, 30 features, batch-1 V2 JSON over "
                 f"HTTP/1.1 keep-alive; wrk -t min(2,c); per point a {args.warmup:g} s warm-up, then "
                 f"{args.repeats} runs of {args.duration:g} s, the median run (by req/s) reported; "
                 f"{results['machine']}; client and server share the cores.")
    lines.append("")
    lines.append("| server | concurrency | req/s | req/s of each run | p50 ms | p99 ms | errors | "
                 "server CPU us/req | avg batch |")
    lines.append("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for name, row in rows.items():
        if row.get("error"):
            reason = " ".join(row["error"].split())[:160].replace("|", "/")
            lines.append(f"| {name} | - | failed: {reason} | | | | | | |")
            continue
        for conc, p in row["points"].items():
            each = " / ".join(str(r) for r in p.get("rps_runs", []))
            lines.append(f"| {name} | {conc} | {p['rps']:.0f} | {each} | {fmt_ms(p['p50_us'])} | "
                         f"{fmt_ms(p['p99_us'])} | {p['errors']} | "
                         f"{'n/a' if p.get('cpu_us_per_req') is None else round(p['cpu_us_per_req'])} | "
                         f"{p.get('avg_batch', '')} |")
    lines.append("")
    lines.append(f"| server | cold start ms (median of {args.cold_repeats}; min-max) | RSS at ready MiB | "
                 f"RSS after load MiB | notes |")
    lines.append("| --- | ---: | ---: | ---: | --- |")
    for name, row in rows.items():
        if row.get("error") or not row.get("cold_start_ms"):
            continue
        cs = row["cold_start_ms"]
        lines.append(f"| {name} | {statistics.median(cs):.0f} ({min(cs):.0f}-{max(cs):.0f}) | "
                     f"{row['rss_ready_mib']:.1f} | {row['rss_after_mib']:.1f} | {row['note']} |")

    def ok(name: str) -> dict | None:
        row = rows.get(name)
        return row if row and not row.get("error") else None

    ml_rows = [n for n in rows if n.startswith("mlserver") and ok(n)]
    ferry_rows = [n for n in rows if n.startswith("ferry") and ok(n)]
    const_rows = [n for n in rows if n.startswith("const_server") and ok(n)]

    def fastest(names: list[str], c: str) -> tuple[str, dict] | None:
        """(name, point) of the row with the most req/s at concurrency c."""
        points = [(n, rows[n]["points"][c]) for n in names if c in rows[n]["points"]]
        return max(points, key=lambda np_: np_[1]["rps"], default=None)
    concs = [str(c) for c in args.concurrency]

    lines.append("")
    lines.append("Ratios (MLServer = its best configuration at that concurrency, by req/s):")
    lines.append("")
    lines.append(f"| ferry config | concurrency | req/s vs MLServer (goal >= {GOAL_RPS_VS_MLSERVER:.0f}x) | "
                 f"MLServer p99 / Ferry p99 (goal >= {GOAL_P99_VS_MLSERVER:.0f}x) | "
                 f"req/s vs transport floor = best const_server row (goal >= {GOAL_VS_FLOOR:.2f}) | "
                 f"MLServer CPU/req / Ferry CPU/req |")
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: |")
    if not ferry_rows:
        lines.append("| (no ferry row) | | | | | |")
    for fname in ferry_rows:
        for c in concs:
            fp = rows[fname]["points"].get(c)
            if not fp:
                continue
            best = fastest(ml_rows, c)
            rps_ratio = fp["rps"] / best[1]["rps"] if best and best[1]["rps"] else None
            p99_ratio = best[1]["p99_us"] / fp["p99_us"] if best and fp["p99_us"] else None
            floor_row = fastest(const_rows, c)
            floor = fp["rps"] / floor_row[1]["rps"] if floor_row and floor_row[1]["rps"] else None
            cpu_ratio = None
            if best and best[1].get("cpu_us_per_req") and fp.get("cpu_us_per_req"):
                cpu_ratio = best[1]["cpu_us_per_req"] / fp["cpu_us_per_req"]
            lines.append(f"| {fname} | {c} | {fmt_ratio(rps_ratio, GOAL_RPS_VS_MLSERVER)} "
                         f"{'(' + best[0] + ')' if best else ''} | {fmt_ratio(p99_ratio, GOAL_P99_VS_MLSERVER)} | "
                         f"{fmt_ratio(floor, GOAL_VS_FLOOR)} {'(' + floor_row[0] + ')' if floor_row else ''} | "
                         f"{fmt_ratio(cpu_ratio)} |")

    on, off = ok("ferry-batching"), ok("ferry-nobatch")
    top = concs[-1] if concs else None
    if on and off and top and top in on["points"] and top in off["points"]:
        a, b = on["points"][top], off["points"][top]
        lines.append("")
        lines.append(f"Batching on vs off at concurrency {top}: req/s {a['rps']:.0f} vs {b['rps']:.0f} "
                     f"({fmt_ratio(a['rps'] / b['rps'] if b['rps'] else None)}), p99 {fmt_ms(a['p99_us'])} vs "
                     f"{fmt_ms(b['p99_us'])} ms.")

    lines.append("")
    ferry = on or off
    if ferry:
        fcs = statistics.median(ferry["cold_start_ms"])
        met = "met" if fcs < GOAL_COLD_START_MS else "not met"
        line = f"Cold start: ferry {fcs:.0f} ms (goal < {GOAL_COLD_START_MS:.0f} ms: {met})"
        if ml_rows:
            mcs = statistics.median(rows[ml_rows[0]]["cold_start_ms"])
            line += f", {ml_rows[0]} {mcs:.0f} ms ({fmt_ratio(mcs / fcs if fcs else None)} faster)"
        lines.append(line + ".")
        if ml_rows:
            m = rows[ml_rows[0]]
            lines.append(f"RSS after load: ferry {ferry['rss_after_mib']:.1f} MiB, {ml_rows[0]} "
                         f"{m['rss_after_mib']:.1f} MiB ({fmt_ratio(m['rss_after_mib'] / ferry['rss_after_mib'] if ferry['rss_after_mib'] else None)} less).")
    else:
        lines.append("No ferry row: goal ratios n/a.")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-dir", type=Path, required=True)
    p.add_argument("--work-dir", type=Path, required=True)
    p.add_argument("--servers", default="ferry-batching,ferry-partitioned,ferry-nobatch,mlserver-default,"
                                        "mlserver-workers,const_server,const_server-partitioned")
    p.add_argument("--concurrency", default="1,8,64")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--repeats", type=int, default=3, help="measured runs per point; the median is reported")
    p.add_argument("--cold-repeats", type=int, default=3)
    p.add_argument("--ferry-bin", type=Path)
    p.add_argument("--ferry-args", default="", help="extra flags for both ferry rows")
    p.add_argument("--ferry-batching-args", default="")
    p.add_argument("--ferry-nobatch-args", default="")
    p.add_argument("--mlserver-bin", type=Path)
    p.add_argument("--mlserver-workers", type=int, default=2)
    p.add_argument("--mlserver-omp-threads", type=int, default=1)
    p.add_argument("--const-bin", type=Path)
    p.add_argument("--const-threads", type=int, default=2)
    p.add_argument("--lua", type=Path, required=True)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.replace(" ", ",").split(",") if c]
    args.body = args.model_dir / "request-1.json"
    body = args.body.read_bytes()
    expected = json.loads((args.model_dir / "expected-1.json").read_text())["predict"][0]

    fa = shlex.split(args.ferry_args)
    configs = {
        "ferry-batching": Config("ferry-batching", "ferry", ferry_repo="ferry-repo",
                                 extra_args=fa + shlex.split(args.ferry_batching_args),
                                 note="config.pbtxt: max_batch_size 64, dynamic_batching"),
        "ferry-partitioned": Config("ferry-partitioned", "ferry", ferry_repo="ferry-repo",
                                    extra_args=fa + shlex.split(args.ferry_batching_args)
                                    + ["--io-layout", "partitioned"],
                                    note="as ferry-batching, --io-layout partitioned"),
        "ferry-nobatch": Config("ferry-nobatch", "ferry", ferry_repo="ferry-repo-nobatch",
                                extra_args=fa + shlex.split(args.ferry_nobatch_args),
                                note="config.pbtxt max_batch_size 0, no dynamic_batching"),
        "mlserver-default": Config("mlserver-default", "mlserver",
                                   note="MLServer defaults (parallel_workers 1)"),
        # Tuned: more inference processes, each with one OpenMP thread (by
        # default every worker's xgboost predict spreads over all cores and
        # its OpenMP threads spin between calls, oversubscribing 2 cores).
        "mlserver-workers": Config(f"mlserver-workers{args.mlserver_workers}", "mlserver",
                                   mlserver_workers=args.mlserver_workers,
                                   env={"OMP_NUM_THREADS": str(args.mlserver_omp_threads)},
                                   note=f"parallel_workers {args.mlserver_workers}, "
                                        f"OMP_NUM_THREADS={args.mlserver_omp_threads}"),
        "const_server": Config("const_server", "const",
                               note=f"constant reply, {args.const_threads} threads sharing one io_context"),
        "const_server-partitioned": Config("const_server-partitioned", "const", extra_args=["--partitioned"],
                                           note=f"constant reply, {args.const_threads} threads, one io_context "
                                                "each (as ferry serve)"),
    }
    wanted = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in configs]
    if unknown:
        print(f"bench.py: unknown server(s) {unknown}; known: {list(configs)}", file=sys.stderr)
        return 2

    cpu = "unknown cpu"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    results: dict = {"machine": f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}",
                     "duration_s": args.duration, "concurrency": args.concurrency, "rows": {}}
    launcher = Launcher(args)
    failed = False
    for key in wanted:
        cfg = configs[key]
        row: dict = {"kind": cfg.kind, "note": cfg.note, "points": {}, "cold_start_ms": []}
        results["rows"][cfg.name] = row
        running = None
        print(f"bench: {cfg.name}: starting ({args.cold_repeats} cold starts)", file=sys.stderr, flush=True)
        try:
            for i in range(args.cold_repeats):
                running, ms = launcher.start(cfg)
                row["cold_start_ms"].append(round(ms, 1))
                if i + 1 < args.cold_repeats:
                    launcher.stop(running)
                    running = None
            row["rss_ready_mib"] = rss_mib(running.proc.pid)
            check_response(cfg, running.port, body, expected)
            for conc in args.concurrency:
                run_wrk(args, running.port, conc, args.warmup)
                runs = []
                for _ in range(args.repeats):
                    counts0 = model_counts(running.port) if cfg.kind == "ferry" else None
                    cpu0 = cpu_seconds(running.proc.pid)
                    run = run_wrk(args, running.port, conc, args.duration)
                    cpu = cpu_seconds(running.proc.pid) - cpu0
                    counts1 = model_counts(running.port) if counts0 else None
                    if counts0 and counts1 and counts1[1] > counts0[1]:
                        run["avg_batch"] = round((counts1[0] - counts0[0]) / (counts1[1] - counts0[1]), 2)
                    run["server_cpu_s"] = round(cpu, 3)
                    run["cpu_us_per_req"] = round(cpu * 1e6 / run["requests"], 1) if run["requests"] else None
                    runs.append(run)
                # The run with the median req/s stands for the point (all its
                # figures come from that one run); every run's req/s is kept.
                point = dict(sorted(runs, key=lambda r: r["rps"])[len(runs) // 2])
                point["rps_runs"] = [round(r["rps"]) for r in runs]
                point["errors"] = sum(r["errors"] for r in runs)
                row["points"][str(conc)] = point
                print(f"bench: {cfg.name} c={conc}: {point['rps']:.0f} req/s, p50 "
                      f"{fmt_ms(point['p50_us'])} ms, p99 {fmt_ms(point['p99_us'])} ms, "
                      f"errors {point['errors']}", file=sys.stderr, flush=True)
                if point["errors"]:
                    failed = True
            row["rss_after_mib"] = rss_mib(running.proc.pid)
        except Exception as e:  # one broken server must not hide the others' figures
            row["error"] = str(e)
            failed = True
            print(f"bench: {cfg.name}: FAILED: {e}", file=sys.stderr, flush=True)
            try:
                tail = Path(launcher.work / f"{cfg.name}.log").read_text(errors="replace")[-2000:]
                print(f"bench: last lines of {cfg.name}.log:\n{tail}", file=sys.stderr)
            except OSError:
                pass
        finally:
            if running:
                launcher.stop(running)

    print(report(results, args))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
