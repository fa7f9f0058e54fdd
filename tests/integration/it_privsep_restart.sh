#!/usr/bin/env bash
# shellcheck disable=SC2016  # check_cond conditions are eval'd: single quotes on purpose
# The network child killed (SIGKILL) in the middle of 200 concurrent
# enrollments (100 CSR, 100 server-made PKCS#12; 32 at a time, over HTTPS):
# the monitor starts a new child and the daemon answers again within a
# second; every 200 has its row; every used token gave its owner the
# certificate, in the burst or by asking again with the same key (DESIGN 3);
# a PKCS#12 whose key died with the child was revoked (cessationOfOperation)
# and its token re-armed; every token not used still works.  Nothing is
# consumed without a certificate its owner can get.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"

[[ $(id -u) == 0 ]] || skip "needs root (the monitor starts the child as another user)"
"$PY" -c 'import cryptography' 2>/dev/null || skip "python3-cryptography is missing"

H=$T/pki
ed_home "$H"
ed_conf "$T/main.ini" "$H" "[limits]
rate_limit = 100000
per_address = 1024"
ed_start main "$T/main.ini"
MON=${ED_PID[main]}

: >"$T/tokens"
for i in $(seq 1 100); do
	printf 'csr %s\np12 %s\n' "$(new_token "$H" "c$i")" "$(new_token "$H" "p$i")" >>"$T/tokens"
done
check_eq "200 tokens" "$(grep -c . "$T/tokens")" 200

"$PY" "$HERE/privsep_burst.py" "$HTTPS" "$H/public/ca-bundle.pem" "$H/userca.db" \
    "$T/tokens" "$MON" 60 "$T/burst.out" || fail "the burst driver failed"
echo "    burst:"; sed 's/^/    | /' "$T/burst.out"
val() { sed -n "s/^$1=//p" "$T/burst.out"; }
check_cond "the child was killed during the burst (after $(val at_answers) answers)" \
    '[[ $(val at_answers) -lt 200 && -n $(val pid) ]]'
check_cond "the monitor survived" 'kill -0 "$MON"'
check_cond "a new child ($(val new_pid)) replaced $(val pid)" \
    '[[ -n $(val new_pid) && $(val new_pid) != None && $(val new_pid) != "$(val pid)" ]]'
check_cond "the daemon answered again within 1 s ($(val recovered_ms) ms)" \
    '[[ $(val recovered_ms) -le 1000 ]]'
check_eq "every 200 has its row" "$(val rows_missing)" 0
check_eq "no token consumed without a certificate its owner got or can get" \
    "$(val used_no_cert)" 0
check_eq "every token not consumed still works" "$(val unused_now_bad)" 0
check_cond "the burst saw answers and failures ($(val ok200) x 200, $(val failed) failed)" \
    '[[ $(val ok200) -gt 0 ]]'
check_grep "the monitor logged the restart" 'network child [0-9]+ was killed by signal 9; restarting it' "$T/main.log"
check_eq "every valid user certificate is the one of its token" \
    "$(sqlite3 "$H/userca.db" "select count(*) from certificates c where c.kind = 'user' and c.status = 'valid' and not exists (select 1 from tokens t where t.cert_id = c.id)")" 0
ed_stop main
check_eq "SIGTERM: the monitor exits 0" "$ED_RC" 0
summary
