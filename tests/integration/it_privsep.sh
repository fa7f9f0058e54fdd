#!/usr/bin/env bash
# shellcheck disable=SC2016  # check_cond conditions are eval'd: single quotes on purpose
# userca-enrolld's privilege separation, seen from outside (as root):
# after enrollments of both kinds (CSR and server-made PKCS#12), the network
# child runs as another uid than the monitor (never 0), with no new
# privileges and a seccomp filter, holds no descriptor of the database, a
# key or the CA home, and its memory (/proc/PID/mem) does not hold the
# issuing key's private scalar, while the monitor's does (so the probe can
# see one).  Then malformed messages written on the child's socketpair (a
# copy taken with pidfd_getfd) end the child, never the monitor, which
# starts a new one that answers within a second.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"

[[ $(id -u) == 0 ]] || skip "needs root (reads /proc/PID/mem, starts the monitor)"
PROBE=$HERE/privsep_probe.py

H=$T/pki
ed_home "$H"
ED_CACERT=$H/public/ca-bundle.pem
ed_conf "$T/main.ini" "$H" "[limits]
rate_limit = 100000"
ed_start main "$T/main.ini"
MON=${ED_PID[main]}
API=/api/v1/enroll

# ---- enrollments of both kinds ----
TC=$(new_token "$H" carol) || fail "token"
new_csr "$T/carol" -subj /CN=ignored
hs "$API/$TC/csr" -H 'Content-Type: application/pkcs10' --data-binary "@$T/carol.csr"
expect_http "CSR enrollment" 200
cp "$T/body" "$T/carol.pem"
check "the CSR's certificate verifies (openssl verify)" \
    openssl verify -CAfile "$H/public/ca-bundle.pem" "$T/carol.pem"
TP=$(new_token "$H" paul) || fail "token"
hs "$API/$TP/p12" -H 'Content-Type: application/json' \
    -H 'Accept: application/x-pkcs12' -d '{"password":"correct horse 1","p12_format":"modern"}'
expect_http "PKCS#12 enrollment (key made by the network child)" 200
cp "$T/body" "$T/paul.p12"
check "the PKCS#12 opens with its password (openssl pkcs12)" \
    openssl pkcs12 -in "$T/paul.p12" -passin 'pass:correct horse 1' -nokeys -out "$T/paul.pem"
check_eq "PKCS#12 certificate recorded and valid" \
    "$(sqlite3 "$H/userca.db" "select status from certificates where serial = '$(cert_serial "$T/paul.pem")'")" valid

# ---- the two processes from outside ----
SCAN=
[[ ${USERCA_SANITIZE:-0} == 1 ]] && SCAN=noscan	# terabytes of shadow memory
"$PY" "$PROBE" table "$MON" "$H" $SCAN >"$T/probe.out" 2>&1 || { cat "$T/probe.out"; fail "probe"; }
echo "    separation (as seen in /proc):"
grep -Ev '^(row|childpid) ' "$T/probe.out" | sed 's/^/    | /'
row() { sed -n "s/^row $1 //p" "$T/probe.out" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
CHILD=$(sed -n 's/^childpid //p' "$T/probe.out" | head -1)
check_cond "the monitor has a network child" '[[ -n $CHILD ]]'
check_eq "the monitor runs as root" "$(row monitor uids)" "0,0,0,0"
check_cond "the child's real, effective, saved and fs uids are not 0 ($(row child uids))" \
    '[[ -n $(row child uids) && ! $(row child uids) =~ (^|,)0(,|$) ]]'
check_cond "monitor and child never share a uid" \
    '[[ $(row child uids | cut -d, -f1) != $(row monitor uids | cut -d, -f1) ]]'
check_eq "the child has no new privileges" "$(row child nnp)" 1
if [[ ${USERCA_SANITIZE:-0} == 1 ]]; then
	pass "sanitizer build: seccomp is off in the child (documented)"
else
	check_eq "the child runs under a seccomp filter (Seccomp: 2)" "$(row child seccomp)" 2
fi
check_eq "no descriptor of the child is the database, a key or in the CA home" \
    "$(row child homefds)" 0
check_cond "the monitor does hold the database open (the fd check sees it)" \
    '[[ $(row monitor homefds) -ge 1 ]]'
if [[ -n $SCAN ]]; then
	pass "sanitizer build: memories not scanned (the plain build does it)"
else
	check_eq "the issuing key's private scalar is NOT in the child's memory" \
	    "$(row child scalar)" 0
	check_eq "the issuing key's private scalar IS in the monitor's memory" \
	    "$(row monitor scalar)" 1
fi
check_grep "the child says how it is confined" 'network child [0-9]+: uid [1-9]' "$T/main.log"

# ---- a malformed message ends the child, not the monitor ----
healthz_within() {	# SECONDS: 200 from /healthz in time
	local i n=$(($1 * 20))
	for ((i = 0; i < n; i++)); do
		[[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$HTTP/healthz") == 200 ]] && return 0
		sleep 0.05
	done
	return 1
}
for kind in version type length body; do
	old=$("$PY" "$PROBE" child "$MON" | head -1)
	"$PY" "$PROBE" inject "$old" "$kind" || fail "inject $kind"
	for ((i = 0; i < 40; i++)); do
		[[ -d /proc/$old ]] || break
		sleep 0.05
	done
	check_cond "malformed $kind: the child $old is gone" '[[ ! -d /proc/$old ]]'
	check_cond "malformed $kind: the monitor still runs" 'kill -0 "$MON"'
	check "malformed $kind: the daemon answers again within 1 s" healthz_within 1
	new=$("$PY" "$PROBE" child "$MON" | head -1)
	check_cond "malformed $kind: a new child ($new)" '[[ -n $new && $new != "$old" ]]'
done
check_grep "the monitor logged the malformed messages" 'malformed message.*killing it' "$T/main.log"
# Each for its own fault (the probe speaks the door's version otherwise).
check_grep "killed for the version" 'message version 99, not' "$T/main.log"
check_grep "killed for the type" 'unknown message type 66' "$T/main.log"
check_grep "killed for the length" 'message of 2147483647 bytes' "$T/main.log"
check_grep "killed for the body" 'malformed message \(type 4,' "$T/main.log"
check_grep "the monitor logged the restarts" 'network child [0-9]+ was killed by signal 9; restarting it' "$T/main.log"

# The new child enrolls as the first did.
TQ=$(new_token "$H" quinn) || fail "token"
hs "$API/$TQ/p12" -H 'Content-Type: application/json' -d '{}'
expect_http "after the restarts: PKCS#12 enrollment" 200

ed_stop main
check_eq "SIGTERM: the monitor exits 0" "$ED_RC" 0
summary
