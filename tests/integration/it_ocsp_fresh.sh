#!/usr/bin/env bash
# shellcheck disable=SC2034
# The network process's kept OCSP answers stay fresh (issue 12: "never
# answered good after a revocation, whatever is cached in the daemon"):
#   a nonce-less GET is answered from the network process's own cache, with
#   no round trip to the monitor (userca_ocsp_child_hits_total), with every
#   caching header and a 304, and a POST of the same request shares it;
#   then `userca revoke` (the CLI, the same database, the daemon running)
#   and a GET every 50 ms: "revoked" within a second, and never "good"
#   again for the next 2 s (each answer read by python3-cryptography, the
#   last checked by openssl ocsp against the root).  Without the monitor's
#   epoch push the cached "good" would be served for its whole max-age.
#   Then 8 threads GET and POST (nonce or not) while the CLI issues, so the
#   epoch moves under them: every answer right (and TSan's stage watches).
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"
need_tool openssl curl
"$PY" -c 'import cryptography' 2>/dev/null || skip "python3-cryptography missing"

ocsp_home alice bob
cat >"$T/d.ini" <<EOF
[ca]
home = $H
[http]
listen = 127.0.0.1:$HTTP_PORT
EOF
ed_start d "$T/d.ini"

hits() { curl -sS "$HTTP/metrics" | sed -n 's/^userca_ocsp_child_hits_total //p'; }
openssl ocsp -issuer "$ISS" -cert "$T/alice.crt" -no_nonce -reqout "$T/req.der" >/dev/null 2>&1
B64=$("$PY" -c 'import base64, sys, urllib.parse
print(urllib.parse.quote(base64.b64encode(open(sys.argv[1], "rb").read()).decode(), safe=""))' "$T/req.der")

# ---- the cache: a repeated GET needs no monitor ----
H0=$(hits)
check_eq "child hits start at 0" "$H0" 0
CODE=$(curl -sS -o "$T/g1.der" -D "$T/h1" -w '%{http_code}' "$URL/$B64")
check_eq "first GET: 200" "$CODE" 200
CODE=$(curl -sS -o "$T/g2.der" -D "$T/h2" -w '%{http_code}' "$URL/$B64")
check_eq "second GET: 200" "$CODE" 200
H1=$(hits)
check_cond "second GET served by the network process's cache (hits $H1)" '[[ $H1 -ge 1 ]]'
check_same "a hit is the same signed answer" "$T/g1.der" "$T/g2.der"
run openssl ocsp -respin "$T/g2.der" -issuer "$ISS" -cert "$T/alice.crt" -CAfile "$ROOT"
check_stdout "the kept answer: alice good" "alice.crt: good"
check_stderr "the kept answer verifies against the root" "Response verify OK"
check_grep "hit: Cache-Control max-age <= 60" '^cache-control: public, max-age=([0-9]|[1-5][0-9]|60),' "$T/h2"
check_grep "hit: ETag" '^etag: "' "$T/h2"
check_grep "hit: Last-Modified" '^last-modified: ' "$T/h2"
check_grep "hit: Expires" '^expires: ' "$T/h2"
E1=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' "$T/h1" | tr -d '\r')
E2=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' "$T/h2" | tr -d '\r')
check_eq "hit: the same ETag" "$E2" "$E1"
CODE=$(curl -sS -o /dev/null -w '%{http_code}' -H "If-None-Match: $E1" "$URL/$B64")
check_eq "hit with If-None-Match: 304" "$CODE" 304
LM=$(sed -n 's/^[Ll]ast-[Mm]odified: *//p' "$T/h2" | tr -d '\r')
CODE=$(curl -sS -o /dev/null -w '%{http_code}' -H "If-Modified-Since: $LM" "$URL/$B64")
check_eq "hit with If-Modified-Since: 304" "$CODE" 304
H2=$(hits)
CODE=$(curl -sS -o "$T/p.der" -w '%{http_code}' -H 'Content-Type: application/ocsp-request' \
    --data-binary @"$T/req.der" "$URL")
check_eq "POST of the same request: 200" "$CODE" 200
H3=$(hits)
check_cond "POST shares the GET's entry (hits $H2 -> $H3)" '[[ $H3 -gt $H2 ]]'
check_same "POST: the same answer" "$T/g1.der" "$T/p.der"
openssl ocsp -issuer "$ISS" -cert "$T/alice.crt" -reqout "$T/reqn.der" >/dev/null 2>&1
curl -sS -o /dev/null -H 'Content-Type: application/ocsp-request' --data-binary @"$T/reqn.der" "$URL"
curl -sS -o /dev/null -H 'Content-Type: application/ocsp-request' --data-binary @"$T/reqn.der" "$URL"
check_eq "a nonce's request is never a hit" "$(hits)" "$H3"

# ---- revoke with the CLI; poll every 50 ms ----
# The poller is ready (python3-cryptography loaded) before the revoke; its
# times count from the moment the CLI's revoke returned (wall clock).
rm -f "$T/revoked.at"
"$PY" - "$URL/$B64" "$T/last.der" "$T/revoked.at" >"$T/poll.txt" 2>"$T/poll.err" <<'EOF' &
import os, sys, time, urllib.request
from cryptography.x509 import ocsp
url, last, mark = sys.argv[1], sys.argv[2], sys.argv[3]
while not os.path.exists(mark):
    time.sleep(0.005)
time.sleep(0.01)
t0 = float(open(mark).read())
first = None
good_after = 0
n = 0
while True:
    t = time.time() - t0
    if first is not None and t > first + 2.0:
        break
    if first is None and t > 5.0:
        break
    body = urllib.request.urlopen(url, timeout=5).read()
    r = ocsp.load_der_ocsp_response(body)
    st = r.certificate_status
    n += 1
    if st == ocsp.OCSPCertStatus.REVOKED:
        if first is None:
            first = t
        open(last, "wb").write(body)
    elif first is not None:
        good_after += 1
    time.sleep(0.05)
print("first_revoked=%s good_after=%d polls=%d" %
      ("%.3f" % first if first is not None else "never", good_after, n))
EOF
POLLER=$!
sleep 0.5
must "revoke alice with the CLI (the daemon running)" uc revoke --home "$H" --user alice \
    --reason keyCompromise
date +%s.%N >"$T/revoked.at.tmp" && mv "$T/revoked.at.tmp" "$T/revoked.at"
wait "$POLLER" || true
cat "$T/poll.txt"
POLL=$(cat "$T/poll.txt")
[[ $POLL =~ first_revoked=([0-9.]+|never)\ good_after=([0-9]+) ]] || fail "poll: $POLL $(cat "$T/poll.err")"
FIRST=${BASH_REMATCH[1]} GOOD_AFTER=${BASH_REMATCH[2]}
check_ne "alice answered revoked at all (within 5 s)" "$FIRST" never
check_cond "alice revoked within a second ($FIRST s)" '[[ $FIRST != never ]] && awk -v s="$FIRST" "BEGIN { exit !(s < 1.0) }"'
check_eq "never good again in the next 2 s" "$GOOD_AFTER" 0
run openssl ocsp -respin "$T/last.der" -issuer "$ISS" -cert "$T/alice.crt" -CAfile "$ROOT"
check_stdout "openssl reads the last answer: alice revoked" "alice.crt: revoked"
check_stderr "the revoked answer verifies" "Response verify OK"
H4=$(hits)
check_cond "the revoked answer is kept and served by the network process ($H3 -> $H4)" '(( H4 > H3 + 1 ))'
run openssl ocsp -url "$URL" -issuer "$ISS" -cert "$T/bob.crt" -CAfile "$ROOT" -no_nonce
check_stdout "bob (not revoked) still good" "bob.crt: good"

# ---- many threads on the cache while the epoch moves (TSan's part) ----
openssl ocsp -issuer "$ISS" -cert "$T/bob.crt" -no_nonce -reqout "$T/reqb.der" >/dev/null 2>&1
"$PY" - "$URL" "$T/req.der" "$T/reqb.der" "$T/reqn.der" >"$T/burst.txt" 2>&1 <<'EOF' &
import base64, sys, threading, urllib.request
from cryptography.x509 import ocsp
url, reqs = sys.argv[1], [open(f, "rb").read() for f in sys.argv[2:]]
want = [ocsp.OCSPCertStatus.REVOKED, ocsp.OCSPCertStatus.GOOD,
        ocsp.OCSPCertStatus.REVOKED]
bad = []
def run(t):
    for i in range(60):
        k = (t + i) % 3
        if i % 2:
            r = urllib.request.Request(url, data=reqs[k], headers={
                "Content-Type": "application/ocsp-request"})
        else:
            r = urllib.request.Request(url + "/" + base64.b64encode(
                reqs[k]).decode().replace("+", "%2B").replace("/", "%2F"))
        body = urllib.request.urlopen(r, timeout=10).read()
        st = ocsp.load_der_ocsp_response(body).certificate_status
        if st != want[k]:
            bad.append((k, st))
th = [threading.Thread(target=run, args=(t,)) for t in range(8)]
[t.start() for t in th]
[t.join() for t in th]
print("bad=%d" % len(bad))
EOF
BURST=$!
csr_users "$H" dave erin
wait "$BURST" || true
check_grep "480 answers from 8 threads while certificates were issued: all right" '^bad=0$' "$T/burst.txt"
ed_stop d
summary
