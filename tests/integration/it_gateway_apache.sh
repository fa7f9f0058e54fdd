#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2034  # check_cond conditions are eval'd; variables used there
# A real Apache httpd (Debian's /usr/sbin/apache2 with mod_ssl, its own
# ServerRoot in the scratch folder, lib_apache.sh) requiring client
# certificates with the generated public/gateway/apache-userca.conf, its
# files kept by scripts/userca-gateway-sync (--check 'apache2 -t',
# --reload 'apache2 -k graceful') from a running userca-enrolld, in front of
# an upstream that echoes the X-SSL-Client-* headers it gets.  The Apache
# twin of it_gateway_nginx.sh; the truth table (printed at the end):
#   batch-issued users, modern and legacy PKCS#12, through curl -> 200, the
#   upstream sees SUCCESS, their DN and serial; after userca revoke + one sync
#   (which checks and gracefully restarts Apache) the revoked user is refused,
#   the others 200; a certificate from an unrelated CA (same names), or none
#   -> refused; a sync that is refused leaves Apache as it was.
# Apache fails closed (a second Apache on a gateway folder written by hand,
# what a gateway whose files were never checked would have): an expired
# issuing CRL, an expired root CRL, a missing issuing CRL or a missing root
# CRL -> everyone refused.  That needs "SSLCARevocationCheck chain" without
# no_crl_for_cert_ok, and the snippet is tested exactly as generated.
# "Refused" is a TLS handshake Apache fails (curl gets no HTTP status, 000).
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"
. "$HERE/lib_gateway.sh"
. "$HERE/lib_apache.sh"
ap_need
need_tool dash curl
SYNC=$UC_SRC/scripts/userca-gateway-sync
REFUSED="refused (handshake)"

gw_home apache

# ---- users: a CSV batch of 3, carol legacy PKCS#12, the others the default (modern) ----
gw_users
for u in alice bob carol; do ap_cert "$u" --cert "$T/out/$u.p12:${PW[$u]}" --cert-type P12; done

# A certificate from an unrelated CA (plain openssl), for clientAuth.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/evil-ca.key" \
    -out "$T/evil-ca.crt" -subj "/O=$ORG/CN=$ORG Issuing CA" -days 30 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/mallory.key" \
    -out "$T/mallory.csr" -subj "/O=$ORG/CN=alice" 2>/dev/null
printf 'extendedKeyUsage=clientAuth\nbasicConstraints=critical,CA:FALSE\n' >"$T/mallory.ext"
openssl x509 -req -in "$T/mallory.csr" -CA "$T/evil-ca.crt" -CAkey "$T/evil-ca.key" \
    -CAcreateserial -days 30 -extfile "$T/mallory.ext" -out "$T/mallory.crt" 2>/dev/null ||
    fail "openssl: the unrelated CA's client certificate"
ap_cert mallory --cert "$T/mallory.crt" --key "$T/mallory.key"

# ---- Apache on the folder userca-gateway-sync keeps ----
ap_upstream echo
GW=$T/gw
AP_PORT=$(free_port)
ap_conf ap "$AP_PORT" "$GW"
check_grep "snippet as tested: SSLCARevocationCheck chain (fail closed)" '^SSLCARevocationCheck chain$' "$T/ap/userca.conf"
for d in 'SSLVerifyClient require' 'SSLVerifyDepth 2' "SSLCACertificateFile $GW/ca.pem" \
    "SSLCARevocationFile $GW/crls.pem" 'RequestHeader set X-SSL-Client-Verify'; do
	check_grep "snippet: $d" "^$d" "$T/ap/userca.conf"
done
AP_CHECK="'$APACHE2' -f '$T/ap/httpd.conf' -t"
# The first sync installs the files Apache needs to start.
run dash "$SYNC" --url "$HTTP" --pin-sha256 "$PIN" --dir "$GW" --quiet
[[ $RC -eq 0 ]] || { _show; fail "first sync (exit $RC)"; }
check "apache2 -t with the generated snippet" "$APACHE2" -f "$T/ap/httpd.conf" -t
ap_start ap "$AP_PORT"

# sees USER: what the upstream got for the last request matches the user
sees() {
	grep -qi "^X-SSL-Client-S-DN: .*CN=$1\b" "$T/body" && grep -qi "^X-SSL-Client-Verify: SUCCESS" "$T/body" &&
	    [[ $(sed -n 's/^X-SSL-Client-Serial: //Ip' "$T/body" | norm_serial) == "${SER[$1]}" ]]
}
# row DESC WHO WANT [PORT]: one line of the truth table; WANT 200 or
# refused; for a 200 the upstream must have seen the user's DN, serial and
# SUCCESS.
row() {
	local d=$1 who=$2 want=$3 got
	ap_req "$who" "${4:-$AP_PORT}"
	got=$CODE
	[[ $CODE == 000 ]] && got=$REFUSED
	[[ $want == refused ]] && want=$REFUSED
	if [[ $CODE == 200 && $who != - && $who != mallory ]]; then
		if sees "$who"; then got="200 (upstream: CN=$who, serial ok)"; else got="200 (upstream saw: $(tr '\n' ' ' <"$T/body"))"; fi
		[[ $want == 200 ]] && want="200 (upstream: CN=$who, serial ok)"
	fi
	tt "$d" "$want" "$got"
}
gens() { ap_generations "$1"; }

# ---- the truth table ----
row "alice (modern p12)" alice 200
row "bob (modern p12)" bob 200
row "carol (legacy p12)" carol 200
ap_req alice "$AP_PORT"
check_grep "upstream: X-SSL-Client-S-DN has CN=alice" 'X-SSL-Client-S-DN: .*CN=alice' "$T/body"
check_grep "upstream: X-SSL-Client-Serial" "X-SSL-Client-Serial: [0-9A-F]+" "$T/body"
row "certificate of an unrelated CA (same names)" mallory refused
check_grep "Apache log: unrelated CA: unable to get local issuer certificate" \
    'Certificate Verification: Error \(20\): unable to get local issuer certificate' "$T/ap/logs/error.log"
row "no client certificate" - refused
check_grep "Apache log: no client certificate" 'peer did not return a certificate|No required SSL certificate' "$T/ap/logs/error.log"

# ---- revoke bob: one sync, which checks and gracefully restarts Apache ----
must "userca revoke bob" uc revoke --home "$H" --user bob --reason keyCompromise
ok=0
for ((i = 0; i < 50; i++)); do
	hp /crl.der
	crl_serials "$T/body" | grep -qx "${SER[bob]}" && { ok=1; break; }
	sleep 0.1
done
[[ $ok -eq 1 ]] || fail "the daemon does not serve a CRL listing bob after 5 s"
g=$(gens ap)
run dash "$SYNC" --url "$HTTP" --pin-sha256 "$PIN" --dir "$GW" --check "$AP_CHECK" --reload "$(ap_reload_cmd ap)"
check_eq "sync after the revocation: exit 0" "$RC" 0
check_stdout "sync after the revocation: installed crls.pem, reloaded" 'installed.*crls\.pem'
check_cond "...Apache restarted gracefully (a new generation)" '[[ $(gens ap) -gt $g ]]'
row "bob after revoke + sync" bob refused
check_grep "Apache log: bob's certificate revoked" 'Certificate Verification: Error \(23\): certificate revoked' "$T/ap/logs/error.log"
row "alice after bob's revocation" alice 200
row "carol after bob's revocation" carol 200

# ---- a refused sync leaves Apache as it was ----
SD=$T/static
mkdir "$SD"
cp -a "$H" "$T/past"
PAST=$(( $(date +%s) - 30 * 86400 ))
must "an expired CRL (copy of the home, USERCA_NOW 30 days ago)" env USERCA_NOW=$PAST \
    "$USERCA" crl --home "$T/past" --days 7
cp "$H/public/ca-bundle.pem" "$SD/ca.pem"
cp "$H/public/root.crl" "$SD/root.crl"
cp "$T/past/public/crl.pem" "$SD/crl.pem"
ST_PORT=$(free_port)
"$PY" -m http.server --bind 127.0.0.1 --directory "$SD" "$ST_PORT" >"$T/static.log" 2>&1 &
ED_PID[static]=$!
for ((i = 0; i < 50; i++)); do curl -fs -o /dev/null "http://127.0.0.1:$ST_PORT/ca.pem" && break; sleep 0.1; done
GWSUM=$(cd "$GW" && sha256sum ./*.pem)
g=$(gens ap)
run dash "$SYNC" --url "http://127.0.0.1:$ST_PORT" --pin-sha256 "$PIN" --dir "$GW" --check "$AP_CHECK" \
    --reload "$(ap_reload_cmd ap)"
tt "sync served an expired CRL: refused" "exit 1" "exit $RC"
check_stderr "refused sync: says nextUpdate is in the past" 'crl\.pem: nextUpdate .* is in the past'
check_eq "refused sync: files unchanged, Apache not restarted" "$(cd "$GW" && sha256sum ./*.pem) $(gens ap)" "$GWSUM $g"
row "alice after the refused sync" alice 200
row "bob after the refused sync" bob refused
kill -TERM "${ED_PID[static]}" 2>/dev/null || true
wait "${ED_PID[static]}" 2>/dev/null || true
unset "ED_PID[static]"

# ---- fail closed: a second Apache on files written by hand ----
# (what a gateway gets when nothing checks its files: a sync that stopped
# running, a CRL left behind, a copy by hand)
must "an expired root CRL too (the copy, USERCA_NOW 30 days ago)" env USERCA_NOW=$PAST \
    "$USERCA" crl --root --days 7 --home "$T/past" --passphrase-file "$PASSFILE"
openssl crl -inform DER -in "$H/public/root.crl" -out "$T/root-crl.pem"
openssl crl -inform DER -in "$T/past/public/root.crl" -out "$T/root-crl-old.pem"
check_cond "the old root CRL has expired" \
    '[[ $(date -u -d "$(openssl crl -in "$T/root-crl-old.pem" -noout -nextupdate | sed "s/^nextUpdate=//")" +%s) -lt $(date +%s) ]]'
check_cond "the old issuing CRL has expired" \
    '[[ $(date -u -d "$(openssl crl -in "$T/past/public/crl.pem" -noout -nextupdate | sed "s/^nextUpdate=//")" +%s) -lt $(date +%s) ]]'
GX=$T/gwx
mkdir "$GX"
cp "$H/public/ca-bundle.pem" "$GX/ca.pem"
# gx DESC ROOT_CRL ISSUING_CRL: crls.pem from those ("-": left out), graceful
gx() {
	local f
	: >"$GX/crls.pem"
	for f in "$2" "$3"; do [[ $f == - ]] || cat "$f" >>"$GX/crls.pem"; done
	ap_graceful apx
}
AX_PORT=$(free_port)
cat "$T/root-crl.pem" "$H/public/crl.pem" >"$GX/crls.pem"
ap_conf apx "$AX_PORT" "$GX"
ap_start apx "$AX_PORT"
row "by hand, current CRLs: alice" alice 200 "$AX_PORT"
row "by hand, current CRLs: bob (revoked)" bob refused "$AX_PORT"

gx "expired issuing CRL" "$T/root-crl.pem" "$T/past/public/crl.pem"
row "by hand, expired issuing CRL: alice" alice refused "$AX_PORT"
check_grep "Apache log: CRL has expired" 'Certificate Verification: Error \(12\): CRL has expired' "$T/apx/logs/error.log"
row "by hand, expired issuing CRL: bob (revoked)" bob refused "$AX_PORT"

gx "expired root CRL" "$T/root-crl-old.pem" "$H/public/crl.pem"
n=$(grep -c 'Error (12): CRL has expired' "$T/apx/logs/error.log" || true)
row "by hand, expired root CRL: alice" alice refused "$AX_PORT"
check_cond "Apache log: the root CRL has expired" '[[ $(grep -c "Error (12): CRL has expired" "$T/apx/logs/error.log") -gt $n ]]'

gx "no issuing CRL" "$T/root-crl.pem" -
row "by hand, issuing CRL missing: alice" alice refused "$AX_PORT"
check_grep "Apache log: unable to get certificate CRL" 'Certificate Verification: Error \(3\): unable to get certificate CRL' "$T/apx/logs/error.log"
row "by hand, issuing CRL missing: bob (revoked)" bob refused "$AX_PORT"

gx "no root CRL" - "$H/public/crl.pem"
row "by hand, root CRL missing: alice" alice refused "$AX_PORT"

gx "current CRLs again" "$T/root-crl.pem" "$H/public/crl.pem"
row "by hand, current CRLs again: alice" alice 200 "$AX_PORT"

ap_stop apx
ap_stop ap

tt_print "$("$APACHE2" -v | sed -n 's/^Server version: //p'), $(openssl version | cut -d' ' -f1-2)" 50
summary
