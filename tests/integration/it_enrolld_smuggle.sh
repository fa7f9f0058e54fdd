#!/usr/bin/env bash
# Request smuggling primitives, sent over raw sockets (python3) to both
# listeners (plain HTTP, and HTTPS through ssl): a request whose body length
# is ambiguous gets 400 (bad_request), the connection is closed, and the
# request hidden in its body is never answered:
#   Content-Length + Transfer-Encoding (both orders), two Content-Length
#   values that differ, two Transfer-Encoding lines, a coding other than
#   chunked.
# Controls, so the counting is sound: pipelined GETs get one answer each;
# a chunked POST is read as chunked and the connection stays usable; two
# equal Content-Length lines are one length.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"

H=$T/pki
ed_home "$H"
ED_CACERT=$H/public/ca-bundle.pem
ed_conf "$T/ed.ini" "$H"
ed_start ed "$T/ed.ini"

cat >"$T/smuggle.py" <<'EOF'
import re, socket, ssl, sys, time

HTTP, HTTPS, CAFILE = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
HIDDEN = b"GET /ca.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

def exchange(port, tls, data, wait=3.0):
    """Send data; read until the server closes or wait s pass.
    Returns (statuses, closed, what came back)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if tls:
        s = ssl.create_default_context(cafile=CAFILE).wrap_socket(
            s, server_hostname="127.0.0.1")
    s.sendall(data)
    buf, closed, end = b"", False, time.monotonic() + wait
    while time.monotonic() < end:
        s.settimeout(max(0.05, end - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except (ConnectionError, ssl.SSLError):
            closed = True
            break
        if not chunk:
            closed = True
            break
        buf += chunk
    s.close()
    return [int(x) for x in re.findall(rb"HTTP/1\.[01] (\d{3}) ", buf)], \
        closed, buf

def say(ok, what):
    print(("ok " if ok else "bad ") + what, flush=True)

def req(head, body=b""):
    return head.replace(b"\n", b"\r\n") + b"\r\n" + body

chunked_hidden = b"0\r\n\r\n" + HIDDEN
bad = [
    ("Content-Length and Transfer-Encoding: chunked",
     req(b"POST /healthz HTTP/1.1\nHost: 127.0.0.1\nContent-Length: %d\n"
         b"Transfer-Encoding: chunked\n" % len(chunked_hidden), chunked_hidden)),
    ("Transfer-Encoding: chunked, then Content-Length",
     req(b"POST /healthz HTTP/1.1\nHost: 127.0.0.1\nTransfer-Encoding: chunked\n"
         b"Content-Length: 4\n", chunked_hidden)),
    ("Content-Length 5 and Content-Length %d" % (5 + len(HIDDEN)),
     req(b"POST /healthz HTTP/1.1\nHost: 127.0.0.1\nContent-Length: 5\n"
         b"Content-Length: %d\n" % (5 + len(HIDDEN)), b"hello" + HIDDEN)),
    ("two Transfer-Encoding lines",
     req(b"POST /healthz HTTP/1.1\nHost: 127.0.0.1\nTransfer-Encoding: chunked\n"
         b"Transfer-Encoding: identity\n", chunked_hidden)),
    ("Transfer-Encoding: gzip, chunked",
     req(b"POST /healthz HTTP/1.1\nHost: 127.0.0.1\n"
         b"Transfer-Encoding: gzip, chunked\n", chunked_hidden)),
]
for name, port, tls in (("plain HTTP", HTTP, False), ("HTTPS", HTTPS, True)):
    for what, data in bad:
        st, closed, got = exchange(port, tls, data)
        say(st == [400] and closed and b'"bad_request"' in got,
            "%s: %s: %s, connection %s" % (
            name, what, "answers " + ",".join(map(str, st)) if st else
            "no answer", "closed" if closed else "left open"))
    # Controls.
    st, closed, got = exchange(port, tls, req(b"GET /healthz HTTP/1.1\nHost: "
                          b"127.0.0.1\n") + HIDDEN, wait=1.5)
    say(st == [200, 200], "%s: two pipelined GETs get two answers: %s" %
        (name, st))
    body = b"5\r\nhello\r\n0\r\n\r\n"
    st, closed, got = exchange(port, tls, req(b"POST /healthz HTTP/1.1\nHost: "
                          b"127.0.0.1\nTransfer-Encoding: chunked\n", body) +
                          HIDDEN, wait=1.5)
    say(st == [405, 200], "%s: a chunked POST is read as chunked, then the "
        "next request is answered: %s" % (name, st))
    st, closed, got = exchange(port, tls, req(b"POST /healthz HTTP/1.1\nHost: "
                          b"127.0.0.1\nContent-Length: 5\nContent-Length: 5\n",
                          b"hello") + HIDDEN, wait=1.5)
    say(st == [405, 200], "%s: two equal Content-Length lines are one "
        "length: %s" % (name, st))
EOF

"$PY" "$T/smuggle.py" "$HTTP_PORT" "$HTTPS_PORT" "$ED_CACERT" >"$T/smuggle.out" 2>&1 || true
while IFS= read -r line; do
	case $line in
	"ok "*) pass "${line#ok }" ;;
	"bad "*) bad "${line#bad }" ;;
	*) echo "    $line" ;;
	esac
done <"$T/smuggle.out"
check_cond "smuggle.py ran its checks" '[[ $(grep -c "^ok \|^bad " "$T/smuggle.out") -eq 16 ]]'
hp /healthz
expect_http "afterwards: /healthz" 200
ed_stop ed
summary
