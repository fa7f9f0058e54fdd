#!/usr/bin/env bash
# userca root renew: the root re-signed with its own key (same subject, same
# key and key identifier, new serial and validity).  openssl verify, with
# the old or the new root certificate as the only trust anchor, accepts the
# chains of an issuing CA signed before the renewal and of one signed after
# it (a rollover), CRLs included; the online home of an offline root takes
# the renewed certificate with 'root install' (and nothing else);
# userca-gateway-sync, set up before the renewal with the key pin the
# generated snippets carry (--pin-spki-sha256), installs the renewed root
# after it, and still refuses a root with another key.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tool dash curl

H=$T/pki
ca_init "$H" --intermediate --profile modern
cp "$H/root/root.crt" "$T/root1.crt"
cp "$H/issuing/ca.crt" "$T/ca1.crt"
new_csr "$T/alice" -subj /CN=alice
must "issue alice (issuing CA 1)" uc issue --home "$H" --user alice --csr "$T/alice.csr" --out "$T/alice.pem"
openssl x509 -in "$T/alice.pem" -out "$T/alice.crt"

# 200 days later (the injectable clock; alice is still valid): renew the root.
LATER=$(( $(date +%s) + 200 * 86400 ))
expect_rc 1 "root renew with a wrong passphrase fails" env USERCA_NOW=$LATER "$USERCA" root renew \
    --home "$H" --passphrase-file <(echo 'wrong passphrase')
check_same "...root/root.crt unchanged" "$H/root/root.crt" "$T/root1.crt"
must "root renew" env USERCA_NOW=$LATER "$USERCA" root renew --home "$H" --passphrase-file "$PASSFILE" \
    --out "$T/root2.crt"
check_same "--out is root/root.crt" "$T/root2.crt" "$H/root/root.crt"
R1S=$(cert_serial "$T/root1.crt")
check_same "the old root is kept as root/root-<serial>.crt" "$H/root/root-$R1S.crt" "$T/root1.crt"
subj() { openssl x509 -in "$1" -noout -subject -issuer -nameopt RFC2253; }
ski() { openssl x509 -in "$1" -noout -ext subjectKeyIdentifier | tail -1; }
na() { date -d "$(openssl x509 -in "$1" -noout -enddate | sed 's/^notAfter=//')" +%s; }
check_eq "renewed root: same subject and issuer" "$(subj "$T/root2.crt")" "$(subj "$T/root1.crt")"
check_eq "renewed root: same public key" "$(pubkey_of_cert "$T/root2.crt")" "$(pubkey_of_cert "$T/root1.crt")"
check_eq "renewed root: same subject key identifier" "$(ski "$T/root2.crt")" "$(ski "$T/root1.crt")"
check_ne "renewed root: a new serial" "$(cert_serial "$T/root2.crt")" "$R1S"
check_cond "renewed root: valid 200 days longer" '[[ $(( $(na "$T/root2.crt") - $(na "$T/root1.crt") )) -gt $((190 * 86400)) ]]'
check "renewed root: self-signed (openssl verify -CAfile itself)" openssl verify -attime $((LATER + 60)) -x509_strict -CAfile "$T/root2.crt" "$T/root2.crt"
check_eq "public/ca-bundle.pem: issuing CA, renewed root" "$(split_pem "$H/public/ca-bundle.pem" "$T/b")" 2
check_same "...its root is the renewed one" "$T/b2.pem" "$T/root2.crt"
check_grep "ca.json: the renewed root's SHA-256" "$(cert_fp "$T/root2.crt" sha256)" "$H/public/ca.json"

# An issuing CA signed after the renewal.
must "rollover after the renewal" env USERCA_NOW=$LATER "$USERCA" intermediate rollover --home "$H" \
    --passphrase-file "$PASSFILE"
cp "$H/issuing/ca.crt" "$T/ca2.crt"
new_csr "$T/bob" -subj /CN=bob
must "issue bob (issuing CA 2)" env USERCA_NOW=$LATER "$USERCA" issue --home "$H" --user bob --csr "$T/bob.csr" --out "$T/bob.pem"
openssl x509 -in "$T/bob.pem" -out "$T/bob.crt"
openssl crl -inform DER -in "$H/public/root.crl" -out "$T/rootcrl.pem"
# Checked at the time of the renewal: the injectable clock is ours only.
AT=$((LATER + 60))
for r in root1 root2; do
	for pair in "alice ca1" "bob ca2"; do
		set -- $pair
		check "anchor $r: $1 via issuing CA ${2#ca}" openssl verify -attime "$AT" -x509_strict -purpose sslclient \
		    -CAfile "$T/$r.crt" -untrusted "$T/$2.crt" "$T/$1.crt"
		check "anchor $r: $1 via issuing CA ${2#ca}, -crl_check_all" openssl verify -attime "$AT" -purpose sslclient \
		    -crl_check_all -CAfile "$T/$r.crt" -untrusted "$T/$2.crt" -CRLfile "$H/public/crls.pem" "$T/$1.crt"
	done
	check "anchor $r: issuing CA 1 (signed by the old root certificate)" openssl verify -attime "$AT" -x509_strict \
	    -CAfile "$T/$r.crt" "$T/ca1.crt"
	check "anchor $r: issuing CA 2 (signed after the renewal)" openssl verify -attime "$AT" -x509_strict \
	    -CAfile "$T/$r.crt" "$T/ca2.crt"
done
must "revoke alice" env USERCA_NOW=$LATER "$USERCA" revoke --home "$H" --user alice
for r in root1 root2; do
	run openssl verify -attime "$AT" -crl_check_all -CAfile "$T/$r.crt" -untrusted "$T/ca1.crt" \
	    -CRLfile "$H/public/crls.pem" "$T/alice.crt"
	check_grep "anchor $r: alice revoked" 'certificate revoked' "$ERR"
done

# ---- the online home of an offline root ----
# airgap WHAT OFF ON ROOT CA: an offline root home OFF (its root copied to
# ROOT) and the online home ON of the issuing CA it signs (copied to CA)
airgap() {
	ca_init "$2" --profile modern
	cp "$2/root/root.crt" "$4"
	must "$1: online: intermediate request" uc intermediate request --home "$3" --org "$ORG" \
	    --base-url "$BASE_URL" --profile modern --out "$3.csr"
	must "$1: offline: sign it" uc root sign-intermediate --home "$2" "$3.csr" --out "$5" \
	    --passphrase-file "$PASSFILE"
	must "$1: online: install it" uc intermediate install --home "$3" "$5" --root "$4"
}
OFF=$T/offline
ON=$T/online
airgap "air gap" "$OFF" "$ON" "$T/off1.crt" "$T/on-ca.crt"
must "offline: root renew" env USERCA_NOW=$LATER "$USERCA" root renew --home "$OFF" --passphrase-file "$PASSFILE" \
    --out "$T/off2.crt"
check_eq "offline (the root issues): public/ca-bundle.pem is the renewed root alone" \
    "$(split_pem "$OFF/public/ca-bundle.pem" "$T/offb")" 1
check_same "...the renewed root" "$T/offb1.pem" "$T/off2.crt"
check_same "offline: issuing/ca.crt (the root) renewed too" "$OFF/issuing/ca.crt" "$T/off2.crt"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/evil.key" \
    -out "$T/evil.crt" -subj "/O=$ORG/CN=$ORG Root CA" -days 9000 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
expect_rc 1 "online: root install of another key with the same name is refused" \
    uc root install "$T/evil.crt" --home "$ON"
check_same "...root/root.crt unchanged" "$ON/root/root.crt" "$T/off1.crt"
expect_rc 1 "online: root install of the same certificate again is refused (not valid longer)" \
    uc root install "$T/off1.crt" --home "$ON"
must "online: root install of the renewed root" uc root install "$T/off2.crt" --home "$ON"
check_same "online: root/root.crt is the renewed root" "$ON/root/root.crt" "$T/off2.crt"
split_pem "$ON/public/ca-bundle.pem" "$T/onb" >/dev/null
check_same "online: public/ca-bundle.pem ends with the renewed root" "$T/onb2.pem" "$T/off2.crt"
new_csr "$T/carol" -subj /CN=carol
must "online: issue carol" uc issue --home "$ON" --user carol --csr "$T/carol.csr" --out "$T/carol.pem"
for r in off1 off2; do
	check "online: carol verifies with $r as anchor" openssl verify -attime "$AT" -x509_strict -purpose sslclient \
	    -CAfile "$T/$r.crt" -untrusted "$T/on-ca.crt" "$T/carol.pem"
done

# ---- userca-gateway-sync across the renewal, pinned by the root's key ----
# Real time here: the sync checks validity against the clock.
SYNC=$UC_SRC/scripts/userca-gateway-sync
OFF3=$T/off3
ON3=$T/on3
SD=$T/static
GW=$T/gw
airgap "sync home" "$OFF3" "$ON3" "$T/r3a.crt" "$T/on3-ca.crt"
must "sync home: import the root CRL online" uc crl --import-root "$OFF3/public/root.crl" --home "$ON3"
# serve: what userca-enrolld serves from the online home's public/
serve() {
	mkdir -p "$SD"
	cp "$ON3/public/ca-bundle.pem" "$SD/ca.pem"
	cp "$ON3/public/crl.pem" "$SD/crl.pem"
	cp "$ON3/public/root.crl" "$SD/root.crl"
}
serve
ST_PORT=$(free_port)
"$PY" -m http.server --bind 127.0.0.1 --directory "$SD" "$ST_PORT" >"$T/static.log" 2>&1 &
SPID=$!
trap 'rc=$?; trap - ERR; kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null || true; (exit $rc); _uc_exit' EXIT
for ((i = 0; i < 50; i++)); do curl -fs -o /dev/null "http://127.0.0.1:$ST_PORT/ca.pem" && break; sleep 0.1; done
# The pin exactly as the generated nginx snippet's sync command line has it.
KPIN=$(sed -n 's/.*--pin-spki-sha256 \([0-9A-Fa-f]*\) .*/\1/p' "$ON3/public/gateway/nginx-userca.conf")
check_eq "nginx snippet: --pin-spki-sha256 is the SHA-256 of the root's SubjectPublicKeyInfo (openssl)" \
    "$(tr A-F a-f <<<"$KPIN")" \
    "$(openssl x509 -in "$T/r3a.crt" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64)"
sync3() { run dash "$SYNC" --url "http://127.0.0.1:$ST_PORT" --dir "$GW" --quiet "$@"; }
sync3 --pin-spki-sha256 "$KPIN"
check_eq "sync with the key pin, before the renewal: exit 0" "$RC" 0
[[ $RC -eq 0 ]] || _show
split_pem "$GW/ca.pem" "$T/gw1" >/dev/null
check_same "...installs the root" "$T/gw12.pem" "$T/r3a.crt"
must "sync home: root renew offline" uc root renew --home "$OFF3" --passphrase-file "$PASSFILE" --out "$T/r3b.crt"
must "sync home: root install online" uc root install "$T/r3b.crt" --home "$ON3"
must "sync home: import the renewed root's CRL online" uc crl --import-root "$OFF3/public/root.crl" --home "$ON3"
serve
sync3 --pin-spki-sha256 "$KPIN"
check_eq "sync with the same key pin, after root renew + root install: exit 0" "$RC" 0
[[ $RC -eq 0 ]] || _show
split_pem "$GW/ca.pem" "$T/gw2" >/dev/null
check_same "...installs the renewed root" "$T/gw22.pem" "$T/r3b.crt"
check "...the installed chain verifies (openssl verify -crl_check_all with the synced files)" \
    openssl verify -crl_check_all -CAfile "$GW/ca.pem" -CRLfile "$GW/crls.pem" "$T/on3-ca.crt"
GWSUM=$(cd "$GW" && sha256sum ./*.pem)
sync3 --pin-sha256 "$(cert_fp "$T/r3a.crt" sha256)"
check_eq "a certificate pin of the old root: refused after the renewal (exit 1)" "$RC" 1
check_stderr "...saying no certificate has that fingerprint" 'pinned SHA-256 fingerprint'
sync3 --pin-sha256 "$(cert_fp "$T/r3b.crt" sha256)"
check_eq "a certificate pin of the renewed root still works: exit 0" "$RC" 0
# Forged: a root with the same name and another key.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/evil3.key" \
    -out "$T/evil3.crt" -subj "$(openssl x509 -in "$T/r3b.crt" -noout -subject -nameopt compat | sed 's/^subject= *//')" \
    -days 9000 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null ||
    fail "openssl: the forged root"
check_eq "the forged root has the same subject" "$(openssl x509 -in "$T/evil3.crt" -noout -subject)" \
    "$(openssl x509 -in "$T/r3b.crt" -noout -subject)"
cat "$T/on3-ca.crt" "$T/evil3.crt" >"$SD/ca.pem"
sync3 --pin-spki-sha256 "$KPIN"
check_eq "a bundle whose root has another key: refused with the key pin (exit 1)" "$RC" 1
check_stderr "...no certificate has the pinned public key" 'pinned public key'
cat "$T/on3-ca.crt" "$T/r3b.crt" "$T/r3a.crt" >"$SD/ca.pem"
sync3 --pin-spki-sha256 "$KPIN"
check_eq "a bundle with the old and the renewed root (both the pinned key): refused (exit 1)" "$RC" 1
check_eq "...installed files unchanged" "$(cd "$GW" && sha256sum ./*.pem)" "$GWSUM"
run dash "$SYNC" --url "http://127.0.0.1:$ST_PORT" --dir "$GW" --pin-spki-sha256 "$KPIN" --pin-sha256 "$(cert_fp "$T/r3b.crt" sha256)"
check_eq "both pins at once: usage error (exit 2)" "$RC" 2
summary
