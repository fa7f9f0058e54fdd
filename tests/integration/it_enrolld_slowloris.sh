#!/usr/bin/env bash
# userca-enrolld under a slowloris attack (python3 asyncio as the attacker):
#   - 300 connections from 127.0.0.2 to each listener that send a header line
#     every second and never finish their request: meanwhile 127.0.0.1 gets
#     /healthz and /crl.der over plain HTTP and HTTPS, each within 2 s;
#   - at most [limits] per_address of those connections are held open at once;
#   - every one of them is closed by [limits] request_timeout (plus the 1 s
#     sweep), although none is ever idle ([limits] timeout is idle-only);
#   - a request that trickles in but arrives within request_timeout is
#     answered;
#   - separation: 300 such connections from 150 addresses fill one listener
#     (max_connections 256 here) and the other keeps answering, both ways.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"

H=$T/pki
ed_home "$H"
ED_CACERT=$H/public/ca-bundle.pem
ed_conf "$T/ed.ini" "$H" "[limits]
max_connections = 256
per_address = 32
request_timeout = 3s
timeout = 30s"
ed_start ed "$T/ed.ini"
hp /crl.der
expect_http "plain HTTP /crl.der before the attack" 200

cat >"$T/slow.py" <<'EOF'
import asyncio, resource, ssl, sys, time

MODE, HTTP, HTTPS, CAFILE = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
DEADLINE = 3.0          # request_timeout in the test's config
PER_ADDRESS = 32
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

def tls_ctx():
    c = ssl.create_default_context(cafile=CAFILE)
    return c

def say(ok, what):
    print(("ok " if ok else "bad ") + what, flush=True)

class Slow:
    """One attacker connection: a request line, then a header line a second."""
    def __init__(self):
        self.connected = None   # time
        self.closed = None      # time

    async def run(self, port, tls, src, stop_at):
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(
                "127.0.0.1", port, ssl=tls_ctx() if tls else None,
                local_addr=(src, 0)), 5)
        except Exception:
            self.closed = time.monotonic()
            return
        self.connected = time.monotonic()
        try:
            w.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            await w.drain()
            i = 0
            while time.monotonic() < stop_at:
                try:
                    await asyncio.wait_for(r.read(4096), 1.0)
                    break               # EOF, or an answer: it is over
                except asyncio.TimeoutError:
                    pass
                i += 1
                w.write(b"X-Slow-%d: still typing\r\n" % i)
                await w.drain()
            else:
                w.close()
                return                  # never closed by the server
        except Exception:
            pass
        self.closed = time.monotonic()
        w.close()

    def open_at(self, t):
        return self.connected is not None and self.connected <= t and \
            (self.closed is None or self.closed > t)

async def fetch(port, tls, path, timeout=2.0):
    """One request from 127.0.0.1: (status, seconds); status 0: failed."""
    t0 = time.monotonic()
    try:
        async def go():
            r, w = await asyncio.open_connection(
                "127.0.0.1", port, ssl=tls_ctx() if tls else None,
                local_addr=("127.0.0.1", 0))
            w.write(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1"
                    b"\r\nConnection: close\r\n\r\n")
            await w.drain()
            data = await r.read()
            w.close()
            return data
        data = await asyncio.wait_for(go(), timeout)
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else 0
    except Exception:
        status = 0
    return status, time.monotonic() - t0

async def probe(label, which):
    for name, port, tls in (("plain HTTP", HTTP, False), ("HTTPS", HTTPS, True)):
        if name not in which:
            continue
        for path in ("/healthz", "/crl.der"):
            st, secs = await fetch(port, tls, path)
            say(st == 200 and secs < 2.0, "%s: 127.0.0.1 gets %s %s: HTTP %d "
                "in %.2f s" % (label, name, path, st, secs))

async def flood(conns, port, tls, srcs, stop_at):
    sem = asyncio.Semaphore(100)        # connect 100 at a time
    async def one(c, src):
        async with sem:
            t = asyncio.ensure_future(c.run(port, tls, src, stop_at))
            while c.connected is None and c.closed is None:
                await asyncio.sleep(0.01)
        await t
    return [asyncio.ensure_future(one(c, s)) for c, s in zip(conns, srcs)]

async def one_address():
    stop_at = time.monotonic() + DEADLINE + 6
    att = {}
    tasks = []
    for name, port, tls in (("plain HTTP", HTTP, False), ("HTTPS", HTTPS, True)):
        att[name] = [Slow() for _ in range(300)]
        tasks += await flood(att[name], port, tls, ["127.0.0.2"] * 300, stop_at)
    # Every attacker has connected (or been turned away).
    while any(c.connected is None and c.closed is None
              for v in att.values() for c in v):
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    now = time.monotonic()
    for name, v in att.items():
        n = sum(c.open_at(now) for c in v)
        say(0 < n <= PER_ADDRESS, "%s: %d of 300 slow connections from "
            "127.0.0.2 held open (per_address %d)" % (name, n, PER_ADDRESS))
    await probe("under attack from 127.0.0.2", ("plain HTTP", "HTTPS"))
    await asyncio.gather(*tasks)
    for name, v in att.items():
        late = [c for c in v if c.connected is not None and
                (c.closed is None or c.closed - c.connected > DEADLINE + 2.5)]
        say(not late, "%s: every trickling connection closed within "
            "request_timeout %.0f s + 2.5 s (%d still open)" %
            (name, DEADLINE, len(late)))

async def trickle_in_time():
    """A request whose header lines arrive over 1.5 s is still answered."""
    for name, port, tls in (("plain HTTP", HTTP, False), ("HTTPS", HTTPS, True)):
        st = 0
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port,
                ssl=tls_ctx() if tls else None)
            w.write(b"GET /crl.der HTTP/1.1\r\n")
            for i in range(3):
                await asyncio.sleep(0.5)
                w.write(b"Host: 127.0.0.1\r\n" if i == 0 else b"X-A: b\r\n")
                await w.drain()
            w.write(b"Connection: close\r\n\r\n")
            await w.drain()
            data = await asyncio.wait_for(r.read(), 5)
            st = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else 0
            w.close()
        except Exception:
            pass
        say(st == 200, "%s: a request trickled in over 1.5 s (< request_timeout) "
            "is answered: HTTP %d" % (name, st))

async def separation():
    srcs = ["127.0.1.%d" % (i // 2 + 1) for i in range(300)]
    for name, port, tls, other in (("HTTPS", HTTPS, True, "plain HTTP"),
                                   ("plain HTTP", HTTP, False, "HTTPS")):
        stop_at = time.monotonic() + DEADLINE + 2
        v = [Slow() for _ in range(300)]
        tasks = await flood(v, port, tls, srcs, stop_at)
        while any(c.connected is None and c.closed is None for c in v):
            await asyncio.sleep(0.05)
        n = sum(c.open_at(time.monotonic()) for c in v)
        print("# %s: %d slow connections from 150 addresses open" % (name, n))
        await probe("%s flooded from 150 addresses" % name, (other,))
        await asyncio.gather(*tasks)
        await asyncio.sleep(1)

asyncio.run({"one": one_address, "trickle": trickle_in_time,
             "separation": separation}[MODE]())
EOF

# slow MODE: the python attacker; its "ok ..."/"bad ..." lines are checks.
slow() {
	local line
	"$PY" "$T/slow.py" "$1" "$HTTP_PORT" "$HTTPS_PORT" "$ED_CACERT" \
	    >"$T/slow.$1.out" 2>&1 || true
	while IFS= read -r line; do
		case $line in
		"ok "*) pass "${line#ok }" ;;
		"bad "*) bad "${line#bad }" ;;
		*) echo "    $line" ;;
		esac
	done <"$T/slow.$1.out"
	grep -q '^ok \|^bad ' "$T/slow.$1.out" || bad "slow.py $1 ran no check"
}

slow one
slow trickle
sleep 1
slow separation

hp /healthz
expect_http "after the attacks: /healthz" 200
ed_stop ed
check_eq "daemon exits 0 on SIGTERM" "$ED_RC" 0
summary
