-- wrk script for bench/serving: POSTs one V2 inference body over keep-alive
-- connections and, in done(), prints one machine-readable line:
--
--   BENCH_RESULT {"requests":N,"duration_us":N,"rps":F,"p50_us":N,...,"errors_status":N,...}
--
-- The body file is the first script argument (wrk ... URL -- body.json) or
-- $BENCH_BODY. Non-2xx/3xx answers are counted by wrk itself ("Non-2xx or 3xx
-- responses" in its report, summary.errors.status here: status > 399) and
-- socket errors as connect/read/write/timeout; run.sh treats any of them as a
-- failed row. No response() callback: defining one makes wrk buffer every
-- body, which would slow the client for the transport-floor rows.

local function read_file(path)
  local f = assert(io.open(path, "rb"), "cannot open body file " .. tostring(path))
  local data = f:read("*a")
  f:close()
  return data
end

local function configure(path)
  wrk.method = "POST"
  wrk.body = read_file(path)
  wrk.headers["Content-Type"] = "application/json"
end

-- Runs in every thread (and the setup state) before requests are formatted.
function init(args)
  local path = (args and args[1]) or os.getenv("BENCH_BODY")
  assert(path, "infer.lua: pass the body file as `-- FILE` or set BENCH_BODY")
  configure(path)
end

function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  local rps = 0
  if seconds > 0 then rps = summary.requests / seconds end
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"rps":%.2f,' ..
    '"mean_us":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,' ..
    '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d}\n',
    summary.requests, summary.duration, rps,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
