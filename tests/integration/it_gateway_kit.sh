#!/usr/bin/env bash
# public/gateway/: the PowerShell trust script's thumbprints and embedded
# certificates against openssl's view of the published CAs; the IIS mapping
# lines against openssl base64 of each valid certificate's DER; the nginx and
# Apache snippets carry the directives gateways need.
. "$(dirname "$0")/lib.sh"

H=$T/home
ca_init "$H" --intermediate --profile modern
G=$H/public/gateway
printf 'username,email\nann,ann@example.com\nben,ben@example.com\ncy,cy@example.com\n' >"$T/u.csv"
must "batch of 3" uc batch "$T/u.csv" --out "$T/out" --home "$H"
ben=$(uc list --home "$H" --user ben --json | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["serial"])')
must "revoke ben" uc revoke --home "$H" --serial "$ben"

# ---- PowerShell: thumbprints and certificates -------------------------------
fp() { openssl x509 -in "$1" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g'; }
ps_var() { sed -n "s/^\\\$$1 = '\\(.*\\)'\$/\\1/p" "$G/userca-trust.ps1"; }
check_eq "ps1: RootThumbprint is openssl's SHA-1 of root.crt" \
    "$(ps_var RootThumbprint)" "$(fp "$H/root/root.crt")"
check_eq "ps1: IssuingThumbprint is openssl's SHA-1 of the issuing CA" \
    "$(ps_var IssuingThumbprint)" "$(fp "$H/issuing/ca.crt")"
ps_var RootCer | openssl base64 -d -A >"$T/root-from-ps1.der"
openssl x509 -in "$H/root/root.crt" -outform DER -out "$T/root.der"
check_same "ps1: the embedded root certificate is root.crt" "$T/root-from-ps1.der" "$T/root.der"
ps_var IssuingCer | openssl base64 -d -A >"$T/iss-from-ps1.der"
openssl x509 -in "$H/issuing/ca.crt" -outform DER -out "$T/iss.der"
check_same "ps1: the embedded issuing certificate is ca.crt" "$T/iss-from-ps1.der" "$T/iss.der"
check_grep "ps1: read-only unless -Apply" 'if \(-not \$Apply\)' "$G/userca-trust.ps1"
check_grep "ps1: imports the root into LocalMachine\\\\Root" "Import-UsercaCert \\\$RootCer 'Root'" "$G/userca-trust.ps1"
check_grep "ps1: imports the issuing CA into LocalMachine\\\\CA" "Import-UsercaCert \\\$IssuingCer 'CA'" "$G/userca-trust.ps1"
check_grep "ps1: thumbprint checked on import" 'thumbprint mismatch' "$G/userca-trust.ps1"

# ---- IIS one-to-one mapping lines ----------------------------------------------
check_eq "iis-mappings.csv: header" "$(head -1 "$G/iis-mappings.csv")" \
    "username,serial,not_after,certificate"
check_eq "iis-mappings.csv: one line per valid user certificate (ben revoked)" \
    "$(tail -n +2 "$G/iis-mappings.csv" | cut -d, -f1 | sort | tr '\n' ' ')" "ann cy "
while IFS=, read -r user serial _ b64; do
	uc export --home "$H" --serial "$serial" --format der --out "$T/$user.der"
	check_eq "iis-mappings.csv: $user's line is openssl base64 -A of the DER" \
	    "$b64" "$(openssl base64 -A -in "$T/$user.der")"
	check_eq "iis-mappings.csv: $user's line equals export --format iis-mapping" \
	    "$b64" "$(uc export --home "$H" --serial "$serial" --format iis-mapping)"
	check_eq "iis-mappings.csv: $user's certificate has CN=$user" \
	    "$(openssl x509 -inform DER -in "$T/$user.der" -noout -subject -nameopt RFC2253 | sed 's/.*CN=\([^,]*\).*/\1/')" "$user"
done < <(tail -n +2 "$G/iis-mappings.csv")

# ---- nginx and Apache snippets ---------------------------------------------------
for d in 'ssl_verify_client on;' 'ssl_verify_depth 2;' \
    'ssl_client_certificate /etc/userca-gateway/ca.pem;' \
    'ssl_crl /etc/userca-gateway/crls.pem;' \
    'proxy_set_header X-SSL-Client-S-DN \$ssl_client_s_dn;' \
    'proxy_set_header X-SSL-Client-Serial \$ssl_client_serial;'; do
	check_grep "nginx snippet: $d" "^$d" "$G/nginx-userca.conf"
done
for d in 'SSLVerifyClient require' 'SSLVerifyDepth 2' \
    'SSLCACertificateFile /etc/userca-gateway/ca.pem' \
    'SSLCARevocationFile /etc/userca-gateway/crls.pem'; do
	check_grep "apache snippet: $d" "^$d" "$G/apache-userca.conf"
done
check_mode "public/gateway/ files are world-readable" "$G/nginx-userca.conf" 644

summary
