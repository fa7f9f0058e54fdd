#!/usr/bin/env bash
# The root key at rest: PBKDF2-HMAC-SHA256 with at least 600,000 iterations,
# a 16-byte salt and AES-256-CBC, read by openssl asn1parse; a root key
# written with 2,048 iterations (before) still opens; init --intermediate
# warns that the root key is on the online host; and the README's way of
# moving it offline works (the online home keeps issuing, the offline copy
# signs root CRLs, the online home imports them).  The time of each root-key
# use is printed (INFO lines).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

H=$T/pki
ca_init "$H" --intermediate --profile modern
check_stderr "init --intermediate warns that root/root.key is on this host" \
    'warning: the root key .*/root/root\.key'
check_stderr "...and says to move it offline (README section named)" 'Moving the root key offline'

# ---- the encryption parameters, as openssl reads them ----
check_eq "root.key is encrypted PKCS#8 PEM" "$(head -1 "$H/root/root.key")" \
    '-----BEGIN ENCRYPTED PRIVATE KEY-----'
check "root.key: PBES2, PBKDF2 with >= 600,000 iterations, hmacWithSHA256, 16-byte salt, aes-256-cbc (openssl asn1parse)" py '
import subprocess, sys
out = subprocess.run(["openssl", "asn1parse", "-in", sys.argv[1]], check=True,
                     capture_output=True, text=True).stdout.splitlines()
objs = [l.split(":", 3)[-1].strip() for l in out if "prim: OBJECT" in l]
ints = [int(l.rsplit(":", 1)[1], 16) for l in out if "prim: INTEGER" in l]
salt = [l.rsplit(":", 1)[1] for l in out if "prim: OCTET STRING" in l and "d=5" in l]
errs = []
if objs[:2] != ["PBES2", "PBKDF2"]: errs.append("algorithms %r" % objs)
if "hmacWithSHA256" not in objs: errs.append("PRF is not hmacWithSHA256: %r" % objs)
if "aes-256-cbc" not in objs: errs.append("cipher is not aes-256-cbc: %r" % objs)
if not ints or ints[0] < 600000: errs.append("iteration count %r < 600000" % ints[:1])
if not salt or len(salt[0]) != 32: errs.append("salt %r is not 16 bytes" % salt)
print("iterations:", ints[:1])
if errs: print("\n".join(errs)); sys.exit(1)
' "$H/root/root.key"
check "root.key opens with openssl pkcs8 and the passphrase" \
    openssl pkcs8 -in "$H/root/root.key" -passin "file:$PASSFILE" -out "$T/root.plain"
check_fails "root.key refuses a wrong passphrase (openssl)" \
    openssl pkey -in "$H/root/root.key" -passin pass:wrong-passphrase -noout
check_mode "root.key 0600" "$H/root/root.key" 600
run openssl asn1parse -in "$H/issuing/ca.key"
check_nogrep "the issuing key (used unattended) stays unencrypted" 'PBES2' "$OUT"

# ---- what it costs: each use of the root key derives the key once ----
MS=0
t_ms() {	# t_ms CMD...: run CMD; its wall-clock milliseconds in $MS
	local t0
	t0=$(date +%s%N)
	run "$@"
	MS=$((($(date +%s%N) - t0) / 1000000))
}
t_ms uc crl --root --home "$H" --passphrase-file "$PASSFILE"
[[ $RC -eq 0 ]] && pass "crl --root with the 600,000-iteration key" || { bad "crl --root (exit $RC)"; _show; }
echo "INFO: crl --root: ${MS} ms (one PBKDF2 of 600,000 iterations)"
t_ms uc crl --home "$H"
echo "INFO: crl (issuing key only, no root key): ${MS} ms"
expect_rc 1 "crl --root with a wrong passphrase" \
    env USERCA_PASSPHRASE=wrong-passphrase "$USERCA" crl --root --home "$H"
check_stderr "...says the passphrase is wrong" 'wrong passphrase'

# ---- a root key written before (2,048 iterations) still opens ----
O=$T/old
cp -a "$H" "$O"
rm -f "$O/root/root.key"
(umask 077; openssl pkcs8 -topk8 -in "$T/root.plain" -v2 aes-256-cbc -v2prf hmacWithSHA256 \
    -iter 2048 -passout "file:$PASSFILE" -out "$O/root/root.key")
rm -f "$T/root.plain"
check_grep "the old-style key has 2,048 iterations" 'INTEGER +:0800$' <(openssl asn1parse -in "$O/root/root.key")
check "a 2,048-iteration root key still opens: crl --root" \
    uc crl --root --home "$O" --passphrase-file "$PASSFILE"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/i2.key" \
    -out "$T/i2.csr" -subj "/O=$ORG/CN=Second Issuing CA" 2>/dev/null
check "a 2,048-iteration root key still opens: root sign-intermediate" \
    uc root sign-intermediate "$T/i2.csr" --out "$T/i2.crt" --home "$O" --passphrase-file "$PASSFILE"
check "...and the CA it signed chains to the root" openssl verify -CAfile "$O/root/root.crt" "$T/i2.crt"

# ---- moving the root key offline (README "Moving the root key offline") ----
OFF=$T/offline
cp -a "$H" "$OFF"
rm -f "$H/root/root.key"
check_nofile "online home: root.key deleted" "$H/root/root.key"
new_csr "$T/alice" -subj /CN=x
check "online home without the root key: issue" \
    uc issue --home "$H" --user alice --email alice@example.test --csr "$T/alice.csr" --out "$T/alice.pem"
check "online home without the root key: crl" uc crl --home "$H"
expect_rc 1 "online home: crl --root is refused" uc crl --root --home "$H" --passphrase-file "$PASSFILE"
check_stderr "...saying the root key stays on the offline host" 'offline'
t_ms uc crl --root --home "$OFF" --passphrase-file "$PASSFILE"
[[ $RC -eq 0 ]] && pass "offline copy: crl --root" || { bad "offline copy: crl --root (exit $RC)"; _show; }
check "online home: crl --import-root of the offline root CRL" \
    uc crl --import-root "$OFF/public/root.crl" --home "$H"
check_same "online home now publishes the offline root CRL" "$H/public/root.crl" "$OFF/public/root.crl"
check "user certificate verifies with both CRLs" bash -c '
cat "$1/public/crl.pem" >"$2/crls.pem"
openssl crl -inform DER -in "$1/public/root.crl" >>"$2/crls.pem"
openssl verify -crl_check_all -purpose sslclient -CAfile "$1/root/root.crt" \
    -untrusted "$1/issuing/ca.crt" -CRLfile "$2/crls.pem" "$2/alice.pem"' _ "$H" "$T"

summary
