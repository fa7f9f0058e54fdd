#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2034  # check_cond conditions are eval'd: single quotes on purpose; variables used there
# scripts/userca-gateway-sync (run under dash, the Debian /bin/sh) against a
# running userca-enrolld: first sync installs ca.pem, crl.pem, root.crl.pem,
# crls.pem and runs the reload command once; an unchanged set is fetched with
# 304s and does not reload; a revocation is installed and reloads.  Then a
# hostile server (python3 http.server over files we control) serves, one at a
# time, a wrong pin, an expired CRL, a not-yet-valid CRL, CRLs signed by other
# CAs, truncated and empty files, an older CRL: each refused with exit 1 and
# one clear line, the installed files untouched, no reload.  A server that is
# down or answers 404 gives exit 3.  Usage errors exit 2.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"
need_tool dash curl

SYNC=$UC_SRC/scripts/userca-gateway-sync
[[ -f $SYNC ]] || fail "scripts/userca-gateway-sync missing"
check "userca-gateway-sync: sh -n" sh -n "$SYNC"
check "userca-gateway-sync: dash -n" dash -n "$SYNC"
head -1 "$SYNC" >"$T/shebang"
check_grep "userca-gateway-sync: #!/bin/sh" '^#!/bin/sh$' "$T/shebang"

H=$T/pki
BASE_URL=http://127.0.0.1:$HTTP_PORT
ca_init "$H" --intermediate --profile modern
ED_CACERT=$H/public/ca-bundle.pem
cat >"$T/d.ini" <<EOF
[ca]
home = $H
[http]
listen = 127.0.0.1:$HTTP_PORT
[crl]
poll = 1s
EOF
ed_start d "$T/d.ini"

PIN=$(openssl x509 -in "$H/root/root.crt" -outform DER | openssl dgst -sha256 | sed 's/^.*= *//')
[[ $PIN =~ ^[0-9a-f]{64}$ ]] || fail "root pin: '$PIN'"
GW=$T/gw
RELOADS=$T/reloads
RELOAD="echo x >>'$RELOADS'"
reloads() { if [[ -f $RELOADS ]]; then wc -l <"$RELOADS"; else echo 0; fi; }
gw_state() { (cd "$GW" && sha256sum ca.pem crl.pem root.crl.pem crls.pem 2>&1); }
n304() { grep -c 'http GET /[a-z.]* 304' "$T/d.log" || true; }
# sync [URL] [args...]: run the script under dash; RC, $OUT, $ERR
sync_gw() {
	local url=$1; shift
	run dash "$SYNC" --url "$url" --pin-sha256 "$PIN" --dir "$GW" --reload "$RELOAD" "$@"
}

# A user to check the installed files with.
new_csr "$T/u1" -subj /CN=u1
must "issue u1" uc issue --home "$H" --user u1 --csr "$T/u1.csr" --out "$T/u1.pem"
split_pem "$T/u1.pem" "$T/u1c" >/dev/null
S1=$(cert_serial "$T/u1c1.pem")

# ---- usage ----
expect_rc 2 "no arguments: usage" dash "$SYNC"
check_stderr "usage error names --url" '--url'
expect_rc 2 "pin that is not 64 hex digits: usage" dash "$SYNC" --url "$HTTP" --pin-sha256 abcd --dir "$GW"
expect_rc 2 "unknown option: usage" dash "$SYNC" --url "$HTTP" --pin-sha256 "$PIN" --dir "$GW" --frobnicate
expect_rc 0 "--help" dash "$SYNC" --help
check_stdout "--help lists the exit codes" 'Exit status'
check_nofile "usage errors create nothing" "$GW"

run dash "$SYNC" --url "$HTTP" --pin-sha256 "$(openssl rand -hex 32)" --dir "$T/gw0" --reload "$RELOAD"
check_eq "first run, wrong pin: exit 1, no reload" "$RC:$(reloads)" "1:0"
check_stderr "first run, wrong pin: 'nothing installed'" 'pinned SHA-256 .*; nothing installed$'
check_nofile "first run, wrong pin: no ca.pem" "$T/gw0/ca.pem"

# ---- 1. first sync: 4 files, one reload ----
sync_gw "$HTTP"
check_eq "first sync: exit 0" "$RC" 0
[[ $RC -eq 0 ]] || _show
for f in ca.pem crl.pem root.crl.pem crls.pem; do check_file "first sync: $f installed" "$GW/$f"; done
check_eq "first sync: reload ran once" "$(reloads)" 1
check_stdout "first sync: says what it installed" 'installed.*crls\.pem'
check_eq "installed ca.pem = issuing CA + root (2 certificates)" "$(split_pem "$GW/ca.pem" "$T/gwca")" 2
check_eq "installed ca.pem: the published bundle's certificates" \
    "$(cert_fp "$T/gwca1.pem" sha256) $(cert_fp "$T/gwca2.pem" sha256)" \
    "$(split_pem "$H/public/ca-bundle.pem" "$T/pubca" >/dev/null; cert_fp "$T/pubca1.pem" sha256) $(cert_fp "$T/pubca2.pem" sha256)"
check_eq "installed crl.pem = served /crl.pem" "$(openssl crl -in "$GW/crl.pem" -outform DER | sha256sum)" \
    "$(sha256sum <"$H/public/crl.der")"
check_eq "installed root.crl.pem = served /root.crl" "$(openssl crl -in "$GW/root.crl.pem" -outform DER | sha256sum)" \
    "$(sha256sum <"$H/public/root.crl")"
check_eq "crls.pem: root CRL + issuing CRL" "$(grep -c 'BEGIN X509 CRL' "$GW/crls.pem")" 2
check "openssl verify -crl_check_all with the installed files: u1 good" \
    openssl verify -no-CApath -no-CAstore -crl_check_all -CAfile "$GW/ca.pem" -CRLfile "$GW/crls.pem" "$T/u1c1.pem"
check_eq "installed files are 0644" "$(stat -L -c %a "$GW/ca.pem" "$GW/crls.pem" | sort -u)" 644
check_eq "no temporary files left in DIR" "$(cd "$GW" && find . -mindepth 1 -maxdepth 1 | sort | tr "\n" " ")" "./.current ./.sets ./.state ./ca.pem ./crl.pem ./crls.pem ./root.crl.pem "
check_eq "DIR/ca.pem etc. are links into .current (one rename switches all four)" \
    "$(cd "$GW" && readlink ca.pem crl.pem root.crl.pem crls.pem | tr "\n" " ")" ".current/ca.pem .current/crl.pem .current/root.crl.pem .current/crls.pem "
check_eq "one set of files in .sets" "$(find "$GW/.sets" -mindepth 1 -maxdepth 1 | wc -l)" 1
cp "$GW/crl.pem" "$T/crl-old.pem"	# number 1: the rollback case below
STATE1=$(gw_state)

# ---- 2. unchanged: 304s, no reload ----
b304=$(n304)
sync_gw "$HTTP"
check_eq "second sync: exit 0" "$RC" 0
check_eq "second sync: reload not run" "$(reloads)" 1
check_eq "second sync: files unchanged" "$(gw_state)" "$STATE1"
check_eq "second sync: daemon answered 3 conditional GETs with 304" "$(( $(n304) - b304 ))" 3
check_stdout "second sync: says unchanged" 'unchanged'
sync_gw "$HTTP" --quiet
check_eq "--quiet, unchanged: exit 0, no output" "$RC:$(cat "$OUT")" "0:"

# pin spellings: colons, upper case, openssl dgst output
COLON=$(tr a-f A-F <<<"$PIN" | sed 's/../&:/g; s/:$//')
expect_rc 0 "pin with colons, upper case" dash "$SYNC" --url "$HTTP" --pin-sha256 "$COLON" --dir "$GW" --reload "$RELOAD"
expect_rc 0 "pin as openssl dgst prints it" dash "$SYNC" --url "$HTTP" --dir "$GW" --reload "$RELOAD" \
    --pin-sha256 "SHA2-256(stdin)= $PIN"
check_eq "...still no reload" "$(reloads)" 1

# ---- 3. a revocation reaches the gateway ----
N1=$(crl_number "$H/public/crl.der")
must "userca revoke u1" uc revoke --home "$H" --serial "$S1" --reason keyCompromise
ok=0
for ((i = 0; i < 50; i++)); do
	hp /crl.der
	cp "$T/body" "$T/served.der"
	if crl_serials "$T/served.der" | grep -qx "$S1"; then ok=1; break; fi
	sleep 0.1
done
[[ $ok -eq 1 ]] || fail "daemon does not serve a CRL listing u1 after 5 s"
sync_gw "$HTTP"
check_eq "sync after revoke: exit 0" "$RC" 0
check_eq "sync after revoke: reload ran (2nd time)" "$(reloads)" 2
check_stdout "sync after revoke: crl.pem installed" 'installed.* crl\.pem'
openssl crl -in "$GW/crl.pem" -outform DER -out "$T/gw.der"
check_cond "installed crl.pem lists u1" 'crl_serials "$T/gw.der" | grep -qx "$S1"'
check_cond "installed CRL number went up" '[[ $(crl_number "$T/gw.der") -gt $N1 ]]'
run openssl verify -no-CApath -no-CAstore -crl_check_all -CAfile "$GW/ca.pem" -CRLfile "$GW/crls.pem" "$T/u1c1.pem"
check_cond "openssl verify with the installed files: u1 revoked" '[[ $RC -ne 0 ]] && grep -q "certificate revoked" "$OUT" "$ERR"'
STATE=$(gw_state)
NR=$(reloads)

# refused: exit 1, one line naming the problem, files untouched, no reload.
# expect_refused DESC ERE [URL]
expect_refused() {
	local d=$1 re=$2 url=${3:-$STATIC}
	sync_gw "$url"
	check_eq "$d: exit 1" "$RC" 1
	if grep -Eq -- "$re" "$ERR" && grep -q 'keeping the installed files' "$ERR"; then
		pass "$d: says $(head -1 "$ERR" | cut -c1-150)"
	else
		bad "$d: stderr does not match /$re/ + 'keeping the installed files'"; _show
	fi
	check_eq "$d: one line on stderr" "$(wc -l <"$ERR")" 1
	check_eq "$d: installed files unchanged" "$(gw_state)" "$STATE"
	check_eq "$d: reload not run" "$(reloads)" "$NR"
}

# ---- 4. wrong pin ----
PIN_GOOD=$PIN
PIN=$(openssl rand -hex 32)
expect_refused "wrong pin" 'no certificate .*pinned SHA-256' "$HTTP"
PIN=$(cert_fp "$T/gwca1.pem" sha256)	# the issuing CA: in the bundle, not self-signed
expect_refused "pin of the issuing CA (not self-signed)" 'not a valid self-signed root' "$HTTP"
PIN=$PIN_GOOD

# ---- 5. a hostile server ----
SD=$T/static
mkdir "$SD"
STATIC_PORT=$(free_port)
while [[ $STATIC_PORT == "$HTTP_PORT" || $STATIC_PORT == "$HTTPS_PORT" ]]; do STATIC_PORT=$(free_port); done
STATIC=http://127.0.0.1:$STATIC_PORT
"$PY" -m http.server --bind 127.0.0.1 --directory "$SD" "$STATIC_PORT" >"$T/static.log" 2>&1 &
ED_PID[static]=$!	# stopped with the daemons
serve_good() {
	cp "$H/public/ca-bundle.pem" "$SD/ca.pem"
	cp "$H/public/crl.pem" "$SD/crl.pem"
	cp "$H/public/root.crl" "$SD/root.crl"
}
serve_good
for ((i = 0; i < 50; i++)); do
	curl -fs -o /dev/null "$STATIC/ca.pem" && break
	sleep 0.1
done
sync_gw "$STATIC"
check_eq "static server with the good files: accepted, nothing changed (exit 0)" "$RC:$(reloads)" "0:$NR"

# Signed with the real issuing key, dated 30 days ago (a copy of the home, clock moved).
cp -a "$H" "$T/past"
must "an expired CRL: userca crl on a copy, USERCA_NOW 30 days ago" env USERCA_NOW=$(( $(date +%s) - 30 * 86400 )) \
    "$USERCA" crl --home "$T/past" --days 7
cp "$T/past/public/crl.pem" "$SD/crl.pem"
expect_refused "expired issuing CRL" '^userca-gateway-sync: crl\.pem: nextUpdate [0-9T:-]+Z is in the past'

# Dated 2 days ahead: a gateway would refuse every user with it.
cp -a "$H" "$T/future"
must "a not-yet-valid CRL: userca crl on a copy, USERCA_NOW 2 days ahead" env USERCA_NOW=$(( $(date +%s) + 2 * 86400 )) \
    "$USERCA" crl --home "$T/future" --days 7
cp "$T/future/public/crl.pem" "$SD/crl.pem"
expect_refused "issuing CRL not yet valid" 'crl\.pem: thisUpdate .* is in the future'

# Another CA with the same names (same --org): right issuer name, wrong key.
H2=$T/other
ca_init "$H2" --intermediate --profile modern
cp "$H2/public/crl.pem" "$SD/crl.pem"
expect_refused "issuing CRL of another CA with the same name" 'crl\.pem: signature does not verify'
serve_good
cp "$H2/public/root.crl" "$SD/root.crl"
expect_refused "root CRL of another CA with the same name" 'root\.crl: signature does not verify'
# Another CA, other names.
H3=$T/third
must "init a third CA (other org)" uc init --home "$H3" --org "Other Org" --base-url "$BASE_URL" \
    --passphrase-file "$PASSFILE" --intermediate --profile modern
serve_good
cp "$H3/public/crl.pem" "$SD/crl.pem"
expect_refused "issuing CRL of an unrelated CA" "crl\.pem: issued by '.*Other Org.*', which is not an issuing CA of the bundle"
serve_good
cp "$H3/public/root.crl" "$SD/root.crl"
expect_refused "root CRL of an unrelated CA" "root\.crl: issued by .*which is not the pinned root"
# The issuing CA's own CRL served as the root's: signed right, by the wrong CA.
serve_good
openssl crl -in "$H/public/crl.pem" -outform DER -out "$SD/root.crl"
expect_refused "issuing CRL served as root.crl" "root\.crl: issued by '.*Issuing.*', which is not the pinned root"

# Rollback: the CRL installed first (number 1), genuine and still valid.
serve_good
cp "$T/crl-old.pem" "$SD/crl.pem"
expect_refused "older issuing CRL (lower number)" 'crl\.pem: CRL number 1 is lower than the installed one \([0-9]+\)'

# Truncated and empty files.
serve_good
head -c 150 "$H/public/crl.pem" >"$SD/crl.pem"
expect_refused "truncated crl.pem" 'crl\.pem: does not parse'
serve_good
head -c 200 "$H/public/root.crl" >"$SD/root.crl"
expect_refused "truncated root.crl (DER)" 'root\.crl: does not parse'
serve_good
: >"$SD/root.crl"
expect_refused "empty root.crl" 'root\.crl: empty'
serve_good
head -c 900 "$H/public/ca-bundle.pem" >"$SD/ca.pem"
expect_refused "truncated ca.pem" 'ca\.pem: truncated'
serve_good
echo "<html>not found</html>" >"$SD/ca.pem"
expect_refused "ca.pem that is HTML" 'ca\.pem: no PEM certificate'
# A bundle with a foreign CA added / the root swapped.
serve_good
cat "$H3/public/ca-bundle.pem" >>"$SD/ca.pem"
expect_refused "ca.pem with another CA's certificates added" "ca\.pem: certificate '.*Other Org.*' does not verify against the pinned root"
serve_good
cp "$H2/public/ca-bundle.pem" "$SD/ca.pem"
expect_refused "ca.pem of another CA (same names)" 'ca\.pem: no certificate .*pinned'

# ---- 6. downloads that fail: exit 3 ----
serve_good
rm "$SD/root.crl"
sync_gw "$STATIC"
check_eq "404 on root.crl: exit 3" "$RC" 3
check_stderr "404: names the URL and the status" 'root\.crl: download failed \(HTTP 404\)'
check_eq "404: files unchanged, no reload" "$(gw_state) $(reloads)" "$STATE $NR"
kill -TERM "${ED_PID[static]}"; wait "${ED_PID[static]}" 2>/dev/null || true; unset "ED_PID[static]"
sync_gw "$STATIC"
check_eq "server down: exit 3" "$RC" 3
check_stderr "server down: says the download failed" 'ca\.pem: download failed \(curl: \(7\)'
check_eq "server down: files unchanged, no reload" "$(gw_state) $(reloads)" "$STATE $NR"

# ---- 7. back to the daemon: unchanged ----
# (The accepted run from the static server, which sends no ETags, dropped
# the stored ones: the first run is unconditional, the next one all 304s.)
sync_gw "$HTTP"
check_eq "daemon again after the refusals: exit 0, no reload" "$RC:$(reloads)" "0:$NR"
b304=$(n304)
sync_gw "$HTTP"
check_eq "...and again: exit 0, no reload, 3 304s" "$RC:$(reloads):$(( $(n304) - b304 ))" "0:$NR:3"

# ---- 7b. nothing newer served while the installed CRL runs out: exit 1 ----
# (The gateway's clock 8 days ahead, libfaketime: the issuing CRL, 7 days,
# has expired there; the daemon answers 304: the run fails, so that cron or
# the timer unit shows it, and keeps the files.)
FAKELIB=$(find /usr/lib -path "*/faketime/libfaketime.so.1" 2>/dev/null | head -1) || true
if [[ -n $FAKELIB ]]; then
	run env LD_PRELOAD="$FAKELIB" FAKETIME=+8d dash "$SYNC" --url "$HTTP" --pin-sha256 "$PIN" \
	    --dir "$GW" --reload "$RELOAD"
	check_eq "gateway clock 8 days ahead, CA serves the same CRL: exit 1, no reload" "$RC:$(reloads)" "1:$NR"
	check_stderr "...says the installed crl.pem's nextUpdate is past" 'crl\.pem: nextUpdate .* is in the past'
	check_eq "...files unchanged" "$(gw_state)" "$STATE"
else
	echo "NOTE: libfaketime not installed: expiry of the installed CRL not checked"
fi

# ---- 8. a reload that fails is retried on the next run ----
new_csr "$T/u2" -subj /CN=u2
must "issue u2" uc issue --home "$H" --user u2 --csr "$T/u2.csr" --out "$T/u2.pem"
must "revoke u2" uc revoke --home "$H" --user u2
want=$(crl_number "$H/public/crl.der")
for ((i = 0; i < 50; i++)); do
	hp /crl.der
	[[ $(crl_number "$T/body") -ge $want ]] && break
	sleep 0.1
done
run dash "$SYNC" --url "$HTTP" --pin-sha256 "$PIN" --dir "$GW" --reload 'exit 7'
check_eq "failing reload command: exit 1" "$RC" 1
check_stderr "failing reload: says so, files installed" 'reload command failed \(exit 7\).*installed'
check_ne "failing reload: the new CRL is installed" "$(gw_state)" "$STATE"
sync_gw "$HTTP"
check_eq "next run: unchanged, but the failed reload is retried" "$RC:$(reloads)" "0:$((NR + 1))"
sync_gw "$HTTP"
check_eq "and only once" "$RC:$(reloads)" "0:$((NR + 1))"

# ---- 9. one run at a time ----
sleep 30 &
SLEEPER=$!
mkdir "$GW/.state/lock" && echo "$SLEEPER" >"$GW/.state/lock/pid"
sync_gw "$HTTP"
check_eq "lock held by a live run: exit 1" "$RC" 1
check_stderr "lock held: says so" 'another run .* in progress'
kill "$SLEEPER"; wait "$SLEEPER" 2>/dev/null || true
sync_gw "$HTTP"
check_eq "lock left by a dead run: taken over (exit 0)" "$RC" 0
check_nofile "lock released" "$GW/.state/lock"

# ---- 10. the systemd units ----
for u in service timer; do
	check_file "scripts/userca-gateway-sync.$u exists" "$UC_SRC/scripts/userca-gateway-sync.$u"
done
if command -v systemd-analyze >/dev/null && [[ -f $UC_SRC/scripts/userca-gateway-sync.service ]]; then
	mkdir -p "$T/units"
	sed "s|^ExecStart=[^ ]*userca-gateway-sync|ExecStart=$SYNC|" "$UC_SRC/scripts/userca-gateway-sync.service" \
	    >"$T/units/userca-gateway-sync.service"
	cp "$UC_SRC/scripts/userca-gateway-sync.timer" "$T/units/"
	run systemd-analyze verify "$T/units/userca-gateway-sync.timer" "$T/units/userca-gateway-sync.service"
	if grep -Ei 'userca-gateway-sync\.(service|timer):' "$ERR" "$OUT" | grep -vqi 'not found\|No such'; then
		bad "systemd-analyze verify complains about the units"; _show
	else
		pass "systemd-analyze verify: units parse"
	fi
fi

ed_stop d
summary
