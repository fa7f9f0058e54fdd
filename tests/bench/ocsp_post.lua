-- wrk script of scripts/bench http: OCSP POSTs, each with its own nonce.
--
--   wrk -tT -cC -dD -s ocsp_post.lua http://HOST:PORT -- REQS T
--
-- REQS holds one OCSP request a line (DER in hex, each with a fresh nonce,
-- made in advance by ocsp_reqs.py: signing is the server's work, not
-- wrk's).  Thread i of T starts at line 1 + i * (lines / T) and cycles
-- through all of them, POSTing each to /ocsp as application/ocsp-request,
-- so consecutive requests carry different nonces and ask about different
-- certificates.  wrk counts non-2xx answers itself.

local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

local function unhex(h)
  return (h:gsub("..", function(x) return string.char(tonumber(x, 16)) end))
end

function init(args)
  local nthreads = tonumber(args[2]) or 1
  reqs = {}
  for line in io.lines(args[1]) do
    local hex = line:match("^(%x+)$")
    assert(hex, "bad line in " .. args[1])
    reqs[#reqs + 1] = wrk.format("POST", "/ocsp",
        { ["Content-Type"] = "application/ocsp-request" }, unhex(hex))
  end
  assert(#reqs > 0, args[1] .. " is empty")
  nxt = (tid * math.floor(#reqs / nthreads)) % #reqs + 1
end

function request()
  local r = reqs[nxt]
  nxt = nxt % #reqs + 1
  return r
end
