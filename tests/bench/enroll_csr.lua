-- wrk script of scripts/bench http: CSR enrollments, each token once.
--
--   wrk -tT -cC -dD -s enroll_csr.lua https://HOST:PORT -- JOBS T OUT [est]
--
-- With "est" (scripts/bench scep), JOBS lines are "<user:token, base64>
-- <CSR, base64>" and each is POSTed to /.well-known/est/simpleenroll with
-- HTTP Basic.
-- T is wrk's -t.  JOBS holds one line per enrollment, "<token> <CSR, DER
-- in hex>" (made by csr_jobs.py); thread i of T takes lines i, i+T, i+2T,
-- ... and POSTs each to /api/v1/enroll/<token>/csr (application/pkcs10)
-- once.  A thread whose lines are used up keeps its idle connections
-- quiet (a GET /healthz every 20 ms) until its last enrollment has
-- answered, then stops and creates OUT.done.<i>: the caller ends wrk
-- (SIGINT: wrk sleeps for -d whatever its threads do) once all T exist, or
-- wrk ends at -d.  done() writes the X-Userca-Serial of every 200 to
-- OUT.serials, one a line, and prints one line:
--   enroll sent=N ok=N non200=N secs=S codes=CODE:N,...
-- secs: from the first enrollment sent to the last one answered (any
-- thread), on CLOCK_MONOTONIC; not wrk's duration, which includes the wait.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC: one clock for all threads
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local function unhex(h)
  return (h:gsub("..", function(x) return string.char(tonumber(x, 16)) end))
end

function init(args)
  local nthreads = tonumber(args[2])
  out = args[3]
  reqs, nxt, answered, finished = {}, 1, 0, false
  ok, non200, serials, codes = 0, 0, {}, {}
  t_first, t_last = 0, 0
  local n = 0
  for line in io.lines(args[1]) do
    if n % nthreads == tid and args[4] == "est" then
      -- EST (scripts/bench scep): "<user:token in base64> <CSR in base64>"
      local basic, b64 = line:match("^(%S+) (%S+)$")
      assert(basic, "bad line in " .. args[1])
      reqs[#reqs + 1] = wrk.format("POST", "/.well-known/est/simpleenroll",
          { ["Content-Type"] = "application/pkcs10",
            ["Content-Transfer-Encoding"] = "base64",
            ["Authorization"] = "Basic " .. basic }, b64)
    elseif n % nthreads == tid then
      local tok, hex = line:match("^(%S+) (%x+)$")
      assert(tok, "bad line in " .. args[1])
      reqs[#reqs + 1] = wrk.format("POST", "/api/v1/enroll/" .. tok .. "/csr",
          { ["Content-Type"] = "application/pkcs10" }, unhex(hex))
    end
    n = n + 1
  end
  filler = wrk.format("GET", "/healthz")
  -- wrk calls request() once in thread 0 before the run, to check it for
  -- pipelining: that call must not use up a token.
  verify_call = (tid == 0)
end

local function finish()
  if finished then return end
  finished = true
  local f = io.open(out .. ".done." .. tid, "w")
  if f then f:close() end
  wrk.thread:stop()
end

function delay()
  if nxt > #reqs then return 20 end
  return 0
end

function request()
  local r = reqs[nxt]
  if r == nil then
    if #reqs == 0 then finish() end
    return filler
  end
  if verify_call then
    verify_call = false
    return r
  end
  if nxt == 1 then t_first = now() end
  nxt = nxt + 1
  return r
end

function response(status, headers, body)
  local serial = headers["X-Userca-Serial"]
  -- /healthz answers {"status": ...}; an enrollment answers with a serial
  -- (200) or {"error": ...}.
  if serial == nil and body:find('"status"', 1, true) then return end
  answered = answered + 1
  t_last = now()
  if status == 200 and serial ~= nil then
    ok = ok + 1
    serials[#serials + 1] = serial
  else
    non200 = non200 + 1
    codes[status] = (codes[status] or 0) + 1
  end
  if answered >= #reqs then finish() end
end

function done(summary, latency, requests)
  local sent, okn, bad, all, t0, t1 = 0, 0, 0, {}, nil, nil
  local f = assert(io.open(threads[1]:get("out") .. ".serials", "w"))
  for _, t in ipairs(threads) do
    sent = sent + (t:get("nxt") - 1)
    okn = okn + t:get("ok")
    bad = bad + t:get("non200")
    for _, s in ipairs(t:get("serials")) do f:write(s, "\n") end
    for c, k in pairs(t:get("codes")) do all[c] = (all[c] or 0) + k end
    local a, b = t:get("t_first"), t:get("t_last")
    if a > 0 and (t0 == nil or a < t0) then t0 = a end
    if b > 0 and (t1 == nil or b > t1) then t1 = b end
  end
  f:close()
  local cs = {}
  for c, k in pairs(all) do cs[#cs + 1] = c .. ":" .. k end
  io.write(string.format("enroll sent=%d ok=%d non200=%d secs=%.3f codes=%s\n",
      sent, okn, bad, (t0 and t1) and (t1 - t0) or 0, table.concat(cs, ",")))
end
