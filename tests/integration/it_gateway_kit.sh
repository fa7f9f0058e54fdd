#!/usr/bin/env bash
# public/gateway/: the IIS mapping lines against openssl base64 of each valid
# certificate's DER; the nginx and Apache snippets carry the directives
# gateways need.  The PowerShell trust script: it_gateway_ps1.sh.
. "$(dirname "$0")/lib.sh"

H=$T/home
ca_init "$H" --intermediate --profile modern
G=$H/public/gateway
printf 'username,email\nann,ann@example.com\nben,ben@example.com\ncy,cy@example.com\n' >"$T/u.csv"
must "batch of 3" uc batch "$T/u.csv" --out "$T/out" --home "$H"
ben=$(uc list --home "$H" --user ben --json | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["serial"])')
must "revoke ben" uc revoke --home "$H" --serial "$ben"

# userca-trust.ps1 (thumbprints, embedded certificates, never removing a
# root, the PowerShell grammar) is it_gateway_ps1.sh's.
check_file "userca-trust.ps1 written" "$G/userca-trust.ps1"

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
# Fails closed (a missing CRL refuses): no no_crl_for_cert_ok.
check_grep "apache snippet: SSLCARevocationCheck chain, nothing after it" \
    '^SSLCARevocationCheck chain$' "$G/apache-userca.conf"
check_nogrep "apache snippet: no no_crl_for_cert_ok" 'no_crl_for_cert_ok' "$G/apache-userca.conf"
# The sync command lines carry the real root pin and URL, never a placeholder.
pin=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["root"]["sha256"])' "$H/public/ca.json")
base=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["base_url"])' "$H/public/ca.json")
check_eq "ca.json's root.sha256 is the root's (openssl)" "$(tr A-F a-f <<<"$pin")" "$(cert_fp "$H/root/root.crt" sha256)"
for f in nginx-userca.conf apache-userca.conf; do
	check_grep "$f: userca-gateway-sync --url $base" "userca-gateway-sync --url $base --dir /etc/userca-gateway" "$G/$f"
	check_grep "$f: --pin-sha256 is the root's SHA-256" "--pin-sha256 $pin " "$G/$f"
	check_nogrep "$f: no placeholder (<root sha256 ...>)" '<[^>]*(sha256|pin|url|fingerprint)[^>]*>' "$G/$f"
done
check_mode "public/gateway/ files are world-readable" "$G/nginx-userca.conf" 644

summary
