#!/usr/bin/env bash
# userca-enrolld reloading under load: 150 SIGHUPs (each swaps in a new set
# of public files and a new HTTPS daemon) while four python3 clients fetch
# /crl.der, /ca.pem and /healthz over plain HTTP (kept-alive connections)
# and one over HTTPS, as fast as they can.  Every answer is 200 and every
# body is the file on disk; the daemon survives and exits 0.  (An HTTPS
# connect may be reset during a reload: the new daemon shares the port with
# SO_REUSEPORT and connections queued on the old one's socket are lost;
# counted, not failed.)  Built with
# -fsanitize=thread (or address), a request reading the published-file set
# while a reload frees it is reported, and the report fails the test.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"

H=$T/pki
ed_home "$H"
ED_CACERT=$H/public/ca-bundle.pem
ed_conf "$T/ed.ini" "$H" "[limits]
drain = 1s"
ed_start ed "$T/ed.ini"
PID=${ED_PID[ed]}

cat >"$T/fetch.py" <<'EOF'
import socket, ssl, sys, threading, time

HTTP, HTTPS, CAFILE, PUB, SECS = (int(sys.argv[1]), int(sys.argv[2]),
                                  sys.argv[3], sys.argv[4], float(sys.argv[5]))
want = {"/crl.der": open(PUB + "/crl.der", "rb").read(),
        "/ca.pem": open(PUB + "/ca-bundle.pem", "rb").read(), "/healthz": None}
lock = threading.Lock()
stats = {"ok": 0, "bad": [], "reconnects": 0, "tls_resets": 0}

def read_response(f):
    line = f.readline()
    if not line:
        raise ConnectionError("closed")
    status = int(line.split()[1])
    length, close = 0, False
    while True:
        h = f.readline()
        if h in (b"\r\n", b""):
            break
        k, _, v = h.decode().partition(":")
        if k.lower() == "content-length":
            length = int(v)
        if k.lower() == "connection" and "close" in v.lower():
            close = True
    body = f.read(length)
    if len(body) < length:
        # Cut short: the connection ended inside the body.  Content-Length
        # tells every client so; it is a lost connection, not an answer.
        raise ConnectionError("closed after %d of %d bytes" % (len(body), length))
    return status, body, close

def client(port, tls):
    end = time.monotonic() + SECS
    s = f = None
    i = 0
    while time.monotonic() < end:
        if s is None:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                if tls:
                    s = ssl.create_default_context(cafile=CAFILE).wrap_socket(
                        s, server_hostname="127.0.0.1")
                f = s.makefile("rb")
            except OSError as e:
                with lock:
                    # The reload's new HTTPS daemon shares the port
                    # (SO_REUSEPORT); the old one's backlog is reset.
                    if tls:
                        stats["tls_resets"] += 1
                    else:
                        stats["bad"].append("connect: %s" % e)
                s = None
                time.sleep(0.05)
                continue
        path = list(want)[i % 3]
        i += 1
        try:
            s.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path.encode())
            status, body, close = read_response(f)
        except (OSError, ConnectionError, ValueError, IndexError) as e:
            # A reload may close an HTTPS keep-alive connection (the old
            # daemon stops after the drain): reconnect.  The plain-HTTP
            # listener is never replaced: a lost connection there is a bug.
            with lock:
                stats["reconnects"] += 1
                if not tls:
                    stats["bad"].append("%s over http: %s" % (path, e))
            s.close()
            s = None
            continue
        with lock:
            if status == 200 and (want[path] is None or body == want[path]):
                stats["ok"] += 1
            else:
                stats["bad"].append("%s over %s: HTTP %d, %d bytes" % (
                    path, "https" if tls else "http", status, len(body)))
        if close:
            s.close()
            s = None

ts = [threading.Thread(target=client, args=(HTTP, False)) for _ in range(4)]
ts.append(threading.Thread(target=client, args=(HTTPS, True)))
for t in ts:
    t.start()
for t in ts:
    t.join()
print("answers %d bad %d reconnects %d https-connect-resets %d" % (
    stats["ok"], len(stats["bad"]), stats["reconnects"], stats["tls_resets"]))
for b in stats["bad"][:10]:
    print("  " + b)
EOF

"$PY" "$T/fetch.py" "$HTTP_PORT" "$HTTPS_PORT" "$ED_CACERT" "$H/public" 12 \
    >"$T/fetch.out" 2>&1 &
FETCH=$!
sleep 0.5
hups=0
for ((i = 0; i < 150; i++)); do
	kill -HUP "$PID" 2>/dev/null || break
	hups=$((hups + 1))
	sleep 0.05
done
wait "$FETCH" || true
sed 's/^/    /' "$T/fetch.out"
check_eq "150 SIGHUPs delivered" "$hups" 150
check_cond "the daemon is still running" 'kill -0 "$PID" 2>/dev/null'
check_cond "reloads happened" '[[ $(grep -c "SIGHUP: reloading" "$T/ed.log") -ge 5 ]]'
read -r _ ok _ nbad _ <"$T/fetch.out" || true
check_cond "the clients got answers ($ok)" '[[ ${ok:-0} -ge 300 ]]'
check_eq "every answer 200 with the file on disk" "${nbad:-x}" 0
hp /crl.der
expect_http "/crl.der after the reloads" 200
ed_stop ed
check_eq "daemon exits 0 on SIGTERM" "$ED_RC" 0
check_nogrep "no sanitizer report (ThreadSanitizer included)" \
    'ThreadSanitizer|AddressSanitizer|runtime error' "$T/ed.log"
summary
