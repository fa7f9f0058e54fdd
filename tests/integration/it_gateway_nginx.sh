#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2034  # check_cond conditions are eval'd; variables used there
# A real nginx (Debian's /usr/sbin/nginx, in a scratch prefix) requiring
# client certificates with the generated public/gateway/nginx-userca.conf,
# its files kept by scripts/userca-gateway-sync from a running userca-enrolld,
# in front of an upstream that echoes the X-SSL-Client-* headers it gets.
# The truth table (printed at the end):
#   batch-issued users, modern and legacy PKCS#12, through curl -> 200, the
#   upstream sees their DN and serial; after userca revoke + one sync (which
#   runs nginx -s reload) the revoked user -> 400, the others 200; a
#   certificate from an unrelated CA, or none -> 400; a sync that is refused
#   leaves nginx accepting users.
# Root CRL runway (userca crl --root --runway 3 --days 10): the daemon is
# restarted with its clock 16 days ahead (USERCA_NOW), past the first root
# CRL's nextUpdate, so it serves the second pre-signed one (thisUpdate 10
# days ahead of the real clock).  nginx checks a CRL's thisUpdate/nextUpdate
# against its own clock, so:
#   - the sync on the real clock refuses those CRLs ("thisUpdate is in the
#     future") and the real-clock nginx goes on accepting users; a control
#     shows that the same nginx given those files would refuse everyone;
#   - a second gateway living 16 days ahead (sync and nginx both under
#     libfaketime, FAKETIME=+16d) installs them and accepts alice and
#     refuses bob with the pre-signed root CRL in force.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"
. "$HERE/lib_gateway.sh"
need_tool dash curl
SYNC=$UC_SRC/scripts/userca-gateway-sync
FAKELIB=$(find /usr/lib -path "*/faketime/libfaketime.so.1" 2>/dev/null | head -1) || true

gw_home nginx

# ---- users: a CSV batch of 3, carol legacy PKCS#12, the others the default (modern) ----
gw_users
run openssl pkcs12 -in "$T/out/carol.p12" -passin "pass:${PW[carol]}" -info -noout
check_grep "carol.p12 is legacy (3DES)" 'pbeWithSHA1And3-KeyTripleDES-CBC' "$ERR"
run openssl pkcs12 -in "$T/out/alice.p12" -passin "pass:${PW[alice]}" -info -noout
check_grep "alice.p12 is modern (AES-256)" 'AES-256-CBC' "$ERR"

# A certificate from an unrelated CA (plain openssl), for clientAuth.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/evil-ca.key" \
    -out "$T/evil-ca.crt" -subj "/O=$ORG/CN=$ORG Issuing CA" -days 30 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/mallory.key" \
    -out "$T/mallory.csr" -subj "/O=$ORG/CN=alice" 2>/dev/null
printf 'extendedKeyUsage=clientAuth\nbasicConstraints=critical,CA:FALSE\n' >"$T/mallory.ext"
openssl x509 -req -in "$T/mallory.csr" -CA "$T/evil-ca.crt" -CAkey "$T/evil-ca.key" \
    -CAcreateserial -days 30 -extfile "$T/mallory.ext" -out "$T/mallory.crt" 2>/dev/null ||
    fail "openssl: the unrelated CA's client certificate"

. "$HERE/lib_nginx.sh"

GW=$T/gw
NX_PORT=$(free_port)
nginx_conf nx "$GW" "$NX_PORT"
# The first sync installs the files nginx needs to start.
run dash "$SYNC" --url "$HTTP" --pin-sha256 "$PIN" --dir "$GW" --quiet
[[ $RC -eq 0 ]] || { _show; fail "first sync (exit $RC)"; }
check "nginx -t with the generated snippet" "$NGINX" -p "$T/nx" -c "$T/nx/nginx.conf" -e stderr -t -q
nginx_start nx "$NX_PORT"

# req USER|-|mallory [PORT]: CODE, $T/body
req() {
	local who=$1 port=${2:-$NX_PORT}
	local -a c=()
	case $who in
	-) ;;
	mallory) c=(--cert "$T/mallory.crt" --key "$T/mallory.key") ;;
	*) c=(--cert "$T/out/$who.p12:${PW[$who]}" --cert-type P12) ;;
	esac
	CODE=$(curl -sS --max-time 10 --cacert "$H/public/ca-bundle.pem" -o "$T/body" -w '%{http_code}' \
	    "${c[@]}" "https://127.0.0.1:$port/" 2>"$T/curl.err") || true
	[[ -n $CODE ]] || CODE=000
}
# sees USER: what the upstream got for the last request matches the user
sees() {
	grep -qi "^X-SSL-Client-S-DN: .*CN=$1\b" "$T/body" && grep -qi "^X-SSL-Client-Verify: SUCCESS" "$T/body" &&
	    [[ $(sed -n 's/^X-SSL-Client-Serial: //Ip' "$T/body" | norm_serial) == "${SER[$1]}" ]]
}
# row DESC USER WANT_CODE [PORT]: one line of the truth table; for a 200 the
# upstream must have seen the user's DN, serial and SUCCESS.
row() {
	local d=$1 who=$2 want=$3 got
	req "$who" "${4:-}"
	got=$CODE
	if [[ $CODE == 200 && $who != - && $who != mallory ]]; then
		if sees "$who"; then got="200 (upstream: CN=$who, serial ok)"; else got="200 (upstream saw: $(tr '\n' ' ' <"$T/body"))"; fi
		[[ $want == 200 ]] && want="200 (upstream: CN=$who, serial ok)"
	fi
	tt "$d" "$want" "$got"
}

# ---- the truth table ----
row "alice (modern p12)" alice 200
row "bob (modern p12)" bob 200
row "carol (legacy p12)" carol 200
req alice
check_grep "upstream: X-SSL-Client-S-DN has CN=alice" 'X-SSL-Client-S-DN: .*CN=alice' "$T/body"
check_grep "upstream: X-SSL-Client-Serial" "X-SSL-Client-Serial: [0-9A-F]+" "$T/body"
row "certificate of an unrelated CA (same names)" mallory 400
row "no client certificate" - 400
req mallory
check_grep "unrelated CA: nginx says 'The SSL certificate error'" 'SSL certificate error' "$T/body"
req -
check_grep "no certificate: nginx says 'No required SSL certificate'" 'No required SSL certificate' "$T/body"

# ---- revoke bob: one sync, which reloads nginx ----
must "userca revoke bob" uc revoke --home "$H" --user bob --reason keyCompromise
ok=0
for ((i = 0; i < 50; i++)); do
	hp /crl.der
	crl_serials "$T/body" | grep -qx "${SER[bob]}" && { ok=1; break; }
	sleep 0.1
done
[[ $ok -eq 1 ]] || fail "the daemon does not serve a CRL listing bob after 5 s"
w=$(workers nx)
run dash "$SYNC" --url "$HTTP" --pin-sha256 "$PIN" --dir "$GW" --reload "$(reload_cmd nx)"
check_eq "sync after the revocation: exit 0" "$RC" 0
check_stdout "sync after the revocation: installed crls.pem, reloaded" 'installed.*crls\.pem'
wait_reload nx "$w"
row "bob after revoke + sync" bob 400
check_grep "nginx log: bob's certificate revoked" 'certificate revoked' "$T/nx/error.log"
row "alice after bob's revocation" alice 200
row "carol after bob's revocation" carol 200

# ---- a refused sync leaves nginx as it was ----
SD=$T/static
mkdir "$SD"
cp -a "$H" "$T/past"
must "an expired CRL (copy of the home, USERCA_NOW 30 days ago)" env USERCA_NOW=$(( $(date +%s) - 30 * 86400 )) \
    "$USERCA" crl --home "$T/past" --days 7
cp "$H/public/ca-bundle.pem" "$SD/ca.pem"
cp "$H/public/root.crl" "$SD/root.crl"
cp "$T/past/public/crl.pem" "$SD/crl.pem"
ST_PORT=$(free_port)
"$PY" -m http.server --bind 127.0.0.1 --directory "$SD" "$ST_PORT" >"$T/static.log" 2>&1 &
ED_PID[static]=$!
for ((i = 0; i < 50; i++)); do curl -fs -o /dev/null "http://127.0.0.1:$ST_PORT/ca.pem" && break; sleep 0.1; done
GWSUM=$(cd "$GW" && sha256sum ./*.pem)
w=$(workers nx)
run dash "$SYNC" --url "http://127.0.0.1:$ST_PORT" --pin-sha256 "$PIN" --dir "$GW" --reload "$(reload_cmd nx)"
tt "sync served an expired CRL: refused" "exit 1" "exit $RC"
check_stderr "refused sync: says nextUpdate is in the past" 'crl\.pem: nextUpdate .* is in the past'
check_eq "refused sync: files unchanged, nginx not reloaded" "$(cd "$GW" && sha256sum ./*.pem) $(workers nx)" "$GWSUM $w"
row "alice after the refused sync" alice 200
row "bob after the refused sync" bob 400
stop static

# ---- root CRL runway ----
DAY=86400
run uc crl --root --runway 3 --days 10 --home "$H" --passphrase-file "$PASSFILE"
if [[ $RC -ne 0 ]]; then
	bad "userca crl --root --runway 3 --days 10 (exit $RC)"; _show
	tt "root CRL runway" "available" "userca crl --root --runway failed"
else
	pass "userca crl --root --runway 3 --days 10"
	R0=$(crl_number "$H/public/root.crl")
	for ((i = 0; i < 50; i++)); do
		hp /root.crl
		[[ $(crl_number "$T/body") == "$R0" ]] && break
		sleep 0.1
	done
	check_eq "daemon serves the runway's first root CRL (#$R0)" "$(crl_number "$T/body")" "$R0"
	NEXT0=$(crl_next_update "$T/body")
	run dash "$SYNC" --url "$HTTP" --pin-sha256 "$PIN" --dir "$GW" --reload "$(reload_cmd nx)"
	check_eq "real clock: sync installs the first root CRL of the runway" "$RC" 0
	sleep 0.5
	row "alice with the runway's first root CRL" alice 200

	# The daemon, clock 16 days ahead: past the first CRL's nextUpdate (10 d + 5 d overlap).
	ed_stop d
	FAKE_NOW=$(( $(date +%s) + 16 * DAY ))
	check_cond "16 days ahead is past the first root CRL's nextUpdate" '[[ $FAKE_NOW -gt $NEXT0 ]]'
	ed_start d2 "$T/d.ini" "USERCA_NOW=$FAKE_NOW"
	for ((i = 0; i < 50; i++)); do
		hp /root.crl
		[[ $(crl_number "$T/body") -gt $R0 ]] && break
		sleep 0.1
	done
	R1=$(crl_number "$T/body")
	tt "daemon 16 days ahead serves the next pre-signed root CRL" "#$((R0 + 1))" "#$R1"
	LU1=$(date -u -d "$(openssl crl -inform DER -in "$T/body" -noout -lastupdate | sed 's/^lastUpdate=//')" +%s)
	check_cond "...whose thisUpdate is ahead of the real clock" '[[ $LU1 -gt $(date +%s) ]]'

	# Real clock: refused, nginx keeps accepting.
	GWSUM=$(cd "$GW" && sha256sum ./*.pem)
	w=$(workers nx)
	run dash "$SYNC" --url "$HTTP" --pin-sha256 "$PIN" --dir "$GW" --reload "$(reload_cmd nx)"
	tt "real-clock sync of CRLs dated ahead: refused" "exit 1" "exit $RC"
	check_stderr "...says thisUpdate is in the future" 'thisUpdate .* is in the future'
	check_eq "...files unchanged, nginx not reloaded" "$(cd "$GW" && sha256sum ./*.pem) $(workers nx)" "$GWSUM $w"
	row "alice, real-clock nginx, after that refusal" alice 200

	if [[ -z $FAKELIB ]]; then
		echo "NOTE: libfaketime not installed: the gateway 16 days ahead is not checked"
	else
		FAKE=(LD_PRELOAD="$FAKELIB" FAKETIME=+16d FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_NO_CACHE=1)
		check_cond "libfaketime works here (date +16 d)" \
		    '(( $(env "${FAKE[@]}" date +%s) - $(date +%s) > 15 * DAY ))'
		GW2=$T/gw2
		run env "${FAKE[@]}" dash "$SYNC" --url "$HTTP" --pin-sha256 "$PIN" --dir "$GW2"
		tt "gateway 16 days ahead (faketime): sync" "exit 0" "exit $RC"
		[[ $RC -eq 0 ]] || _show
		if [[ $RC -eq 0 ]]; then
			check_eq "...installed the pre-signed root CRL #$R1" \
			    "$(openssl crl -in "$GW2/root.crl.pem" -outform DER | crl_number /dev/stdin)" "$R1"
			NX2_PORT=$(free_port)
			# nginx clears its workers' environment: keep libfaketime's settings.
			nginx_conf nx2 "$GW2" "$NX2_PORT" \
			    "env FAKETIME; env FAKETIME_DONT_FAKE_MONOTONIC; env FAKETIME_NO_CACHE;"
			nginx_start nx2 "$NX2_PORT" "${FAKE[@]}"
			row "alice, nginx 16 days ahead, pre-signed root CRL" alice 200 "$NX2_PORT"
			row "bob, nginx 16 days ahead, pre-signed root CRL" bob 400 "$NX2_PORT"
			stop nx2

			# Control: what the sync's check prevents.  The real-clock
			# nginx given those files refuses everyone.
			mkdir "$T/gw.save"
			cp "$GW"/*.pem "$T/gw.save/"
			cp "$GW2"/*.pem "$GW/"
			w=$(workers nx)
			eval "$(reload_cmd nx)" 2>/dev/null
			wait_reload nx "$w"
			row "control: real-clock nginx given those files (no sync check)" alice 400
			check_grep "control: nginx log says CRL is not yet valid" 'CRL is not yet valid' "$T/nx/error.log"
			cp "$T/gw.save"/*.pem "$GW/"
			w=$(workers nx)
			eval "$(reload_cmd nx)" 2>/dev/null
			wait_reload nx "$w"
			row "alice once the installed files are back" alice 200
		fi
	fi
	ed_stop d2
fi

stop nx
stop echo

tt_print "nginx $("$NGINX" -v 2>&1 | sed 's|.*/||'), $(openssl version | cut -d' ' -f1-2)" 62
summary
