#!/usr/bin/env bash
# shellcheck disable=SC2016  # check_cond conditions are eval'd: single quotes on purpose
# SCEP transactions (RFC 8894 transactionID) outlive the daemon: they are
# recorded in userca.db with the certificate they issued.
#   - strongSwan pki --scep enrolls; the network child is killed (SIGKILL)
#     and the monitor starts a new one: the same client run again (same
#     key, token and name: the same request) gets the same certificate,
#     and nothing new is issued;
#   - hand-made requests (tests/integration/scep_msg.py): a PKCSReq, then
#     the daemon restarted: CertPoll (GetCertInitial) answers the
#     certificate, the replayed message gets the same one, one row;
#     CertPoll signed by another key: badCertId; the same transactionID
#     with another request (another token and key): badRequest, no row,
#     that token unused;
#   - a RenewalReq (signed by the certificate it renews), the daemon
#     restarted: the replay gets the same renewed certificate, CertPoll by
#     the signer too;
#   - the row itself: scep_transactions holds the transactionID and the
#     certificate's id.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"
need_tool pki sqlite3

H=$T/pki
DB=$H/userca.db
ed_home "$H"
ed_conf "$T/d.ini" "$H" ""
ed_start d "$T/d.ini"
SCEP=$HTTP/scep
MSG=$HERE/scep_msg.py
RA=$H/issuing/scep-ra.crt

tok() { new_token "$H" "$@" || fail "userca token $*"; }
used_at() { sqlite3 "$DB" "select ifnull(used_at, 'NULL') from tokens where $(token_sql "$1")"; }
rows() { sqlite3 "$DB" "select count(*) from certificates where kind = 'user'"; }
req() { "$PY" "$MSG" req --ra "$RA" "$@"; }
send() { "$PY" "$MSG" send --url "$SCEP" "$@" >"$OUT" 2>&1 || echo "send failed" >>"$OUT"; }
child_of() {	# MONITOR_PID -> its network child's PID (none: empty)
	{ ps -o pid= --ppid "$1" || true; } | tr -d ' ' | head -1
}
healthy() {	# wait until /healthz answers 200 (at most 10 s)
	local i code
	for ((i = 0; i < 100; i++)); do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$HTTP/healthz") || true
		[[ $code == 200 ]] && return 0
		sleep 0.1
	done
	return 1
}
kill_child() {	# NAME: SIGKILL the network child, wait for its successor
	local old new i
	old=$(child_of "${ED_PID[$1]}")
	[[ -n $old ]] || fail "no network child of ${ED_PID[$1]}"
	kill -KILL "$old"
	for ((i = 0; i < 100; i++)); do
		new=$(child_of "${ED_PID[$1]}")
		[[ -n $new && $new != "$old" ]] && break
		sleep 0.1
	done
	check_cond "a new network child ($new) replaced the killed one ($old)" \
	    '[[ -n $new && $new != "$old" ]]'
	healthy || fail "the daemon did not answer after its child was killed"
}
der_serial() {	# CERT.der -> its serial ("none" when there is no certificate)
	openssl x509 -inform DER -in "$1" -noout -serial 2>/dev/null | sed 's/^serial=//' |
	    norm_serial || echo none
}
restart() {	# NAME CONF
	ed_stop "$1"
	ed_start "$1" "$2"
}

# ---- strongSwan pki --scep: the same client run again after the child died -------------
(cd "$T" && pki --scepca --url "$SCEP" --caout ss-ca.der --raout ss-ra.der) >"$OUT" 2>&1 || true
check_file "pki --scepca wrote the RA" "$T/ss-ra.der"
SSCA=()
for f in "$T"/ss-ca*.der; do SSCA+=(--cacert "$f"); done
pkiscep() {	# KEY OUTDER [args]
	local k=$1 o=$2; shift 2
	RC=0
	pki --scep --url "$SCEP" --in "$k" --dn "CN=device" --cacert-enc "$T/ss-ra.der" \
	    --cacert-sig "$T/ss-ra.der" "${SSCA[@]}" "$@" >"$o" 2>"$ERR" || RC=$?
}
TS=$(tok sam)
pki --gen --type rsa --size 2048 >"$T/sam.key" 2>/dev/null
pkiscep "$T/sam.key" "$T/sam1.der" --password "$TS"
check_eq "pki --scep enrolls: exit 0" "$RC" 0
S1=$(der_serial "$T/sam1.der")
check_eq "... one transaction recorded for it" \
    "$(sqlite3 "$DB" "select count(*) from scep_transactions t join certificates c on c.id = t.cert_id where c.serial = '$S1'")" 1
N=$(rows)
kill_child d
pkiscep "$T/sam.key" "$T/sam2.der" --password "$TS"
check_eq "after the child was killed, the same request again: exit 0" "$RC" 0
S2=$(der_serial "$T/sam2.der")
check_eq "... the same certificate" "$S2" "$S1"
check_eq "... nothing issued" "$(rows)" "$N"

# ---- hand-made: CertPoll and a replay after a restart ----------------------------------------
TC=$(tok carol)
req --key "$T/c.key" --challenge="$TC" --tid tx-carol --out "$T/c.req"
send --in "$T/c.req" --key "$T/c.key"
check_stdout "PKCSReq (tid tx-carol): SUCCESS" '^SUCCESS '
SC=$(awk '{print $2}' "$OUT")
N=$(rows)
restart d "$T/d.ini"
req --key "$T/c.key" --tid tx-carol --type 20 --content "$T/c.req" --out "$T/poll.req"
send --in "$T/poll.req" --key "$T/c.key"
check_stdout "after a restart, CertPoll: the transaction's certificate" "^SUCCESS $SC\$"
send --in "$T/c.req" --key "$T/c.key"
check_stdout "after a restart, the replayed PKCSReq: the same certificate" "^SUCCESS $SC\$"
check_eq "... nothing issued" "$(rows)" "$N"
kill_child d
send --in "$T/poll.req" --key "$T/c.key"
check_stdout "after the child was killed, CertPoll: the same certificate" "^SUCCESS $SC\$"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/o.key" 2>/dev/null
req --key "$T/o.key" --tid tx-carol --type 20 --content "$T/c.req" --out "$T/poll-o.req"
send --in "$T/poll-o.req" --key "$T/o.key"
check_stdout "CertPoll of tx-carol signed by another key: badCertId" '^FAILURE 4$'
TD=$(tok dave)
req --key "$T/d.key" --challenge="$TD" --tid tx-carol --out "$T/d.req"
send --in "$T/d.req" --key "$T/d.key"
check_stdout "tx-carol with another request (dave's token and key): badRequest" '^FAILURE 2$'
check_eq "... no row" "$(rows)" "$N"
check_eq "... dave's token unused" "$(used_at "$TD")" NULL
req --key "$T/d.key" --challenge="$TD" --tid tx-dave --out "$T/d2.req"
send --in "$T/d2.req" --key "$T/d.key" --out "$T/d.pem"
check_stdout "... which then enrolls under its own transactionID" '^SUCCESS '

# ---- RenewalReq: replayed after a restart ------------------------------------------------------
req --key "$T/d2.key" --signer-cert "$T/d.pem" --sign-key "$T/d.key" --type 17 \
    --tid tx-renew --out "$T/r.req"
send --in "$T/r.req" --key "$T/d.key"
check_stdout "RenewalReq signed by dave's certificate: SUCCESS" '^SUCCESS '
SR=$(awk '{print $2}' "$OUT")
check_eq "... recorded as scep-renew" "$(sqlite3 "$DB" "select method from certificates where serial = '$SR'")" scep-renew
N=$(rows)
restart d "$T/d.ini"
send --in "$T/r.req" --key "$T/d.key"
check_stdout "after a restart, the replayed RenewalReq: the same certificate" "^SUCCESS $SR\$"
check_eq "... nothing issued" "$(rows)" "$N"
req --key "$T/d.key" --signer-cert "$T/d.pem" --tid tx-renew --type 20 --content "$T/r.req" \
    --out "$T/rpoll.req"
send --in "$T/rpoll.req" --key "$T/d.key"
check_stdout "CertPoll by the renewal's signer: the renewed certificate" "^SUCCESS $SR\$"
check_eq "transactions recorded: sam, carol, dave, the renewal" \
    "$(sqlite3 "$DB" "select count(*) from scep_transactions")" 4
ed_stop d
check_eq "the daemon stopped cleanly" "$ED_RC" 0
summary
