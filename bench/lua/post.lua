-- wrk script for bench/: POST the JSON body in $BENCH_BODY to the URL wrk was given.
-- A body containing __SEQ__ gets a unique "<thread>-<n>" there per request (for writes).
-- $BENCH_TOKENS names a file of "Bearer ..." lines: requests rotate through them (one member per request,
-- each thread starting at its own offset); without it, $BENCH_AUTH (if set) goes on every request.
-- A response counts as bad unless it is HTTP 200 without an "errors" key in its body.
-- done() prints one line "BENCH_JSON {...}" that benchkit/loadgen.py parses.

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
  template = file:read("*a")
  file:close()
  bad = 0
  sent = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json"
  local authorization = os.getenv("BENCH_AUTH")
  if authorization and authorization ~= "" then
    wrk.headers["Authorization"] = authorization
  end
  tokens = {}
  local tokens_path = os.getenv("BENCH_TOKENS")
  if tokens_path and tokens_path ~= "" then
    for line in io.lines(tokens_path) do
      if line ~= "" then table.insert(tokens, line) end
    end
  end
  if #tokens == 0 then tokens = {wrk.headers["Authorization"] or false} end
  headers = {}
  for i, token in ipairs(tokens) do
    local h = {["Content-Type"] = "application/json", ["Accept"] = "application/json"}
    if token then h["Authorization"] = token end
    headers[i] = h
  end
  turn = (tid * 37) % #tokens
  templated = string.find(template, "__SEQ__", 1, true) ~= nil
  if not templated then
    fixed = {}
    for i, h in ipairs(headers) do fixed[i] = wrk.format("POST", nil, h, template) end
  end
end

function request()
  turn = turn % #headers + 1
  if not templated then
    return fixed[turn]
  end
  sent = sent + 1
  local body = string.gsub(template, "__SEQ__", tid .. "-" .. sent)
  return wrk.format("POST", nil, headers[turn], body)
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total_bad = 0
  for _, thread in ipairs(threads) do
    total_bad = total_bad + thread:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bad":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, total_bad, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
