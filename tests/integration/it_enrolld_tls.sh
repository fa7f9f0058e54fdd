#!/usr/bin/env bash
# The HTTPS listener's TLS, probed with two clients we did not write
# (openssl s_client and GnuTLS gnutls-cli), with an EC certificate (userca
# issue-server) and an RSA one (openssl req, so static RSA key exchange is
# possible at all):
#   refused: TLS 1.0 and 1.1 (openssl at SECLEVEL=0, so the refusal is the
#     server's), static RSA key exchange (AES128-SHA, AES128-GCM-SHA256),
#     CBC suites (also with ECDHE), SHA-1 MACs;
#   accepted: TLS 1.3 (each suite), TLS 1.2 ECDHE-ECDSA/ECDHE-RSA with
#     AES-GCM and ChaCha20-Poly1305;
#   [https] priorities replaces the default (TLS 1.3 only here), and a
#     string GnuTLS rejects stops the daemon at start with a message.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"
need_tool openssl
need_tool gnutls-cli

H=$T/pki
ed_home "$H"
ED_CACERT=$H/public/ca-bundle.pem

# The handshake of one client; 0: it completed.  The negotiated protocol and
# suite go to $T/tls.got.
ossl() {	# ARGS...
	local rc=0
	timeout 10 openssl s_client -brief -connect "127.0.0.1:$HTTPS_PORT" \
	    -servername localhost "$@" </dev/null >"$T/tls.out" 2>&1 || rc=$?
	echo "$(sed -n 's/^Protocol version: *//p' "$T/tls.out" | head -1)" \
	    "$(sed -n 's/^Ciphersuite: *//p' "$T/tls.out" | head -1)" >"$T/tls.got"
	grep -q '^Ciphersuite: ' "$T/tls.out" || rc=1
	return "$rc"
}
gtls() {	# PRIORITY
	local rc=0
	timeout 10 gnutls-cli --insecure --priority "$1" -p "$HTTPS_PORT" \
	    127.0.0.1 </dev/null >"$T/tls.out" 2>&1 || rc=$?
	sed -n 's/^- Description: //p' "$T/tls.out" | head -1 >"$T/tls.got"
	grep -q 'Handshake was completed' "$T/tls.out" || rc=1
	return "$rc"
}
accept_o() {	# DESC WANT_ERE ARGS...
	local d=$1 want=$2
	shift 2
	if ossl "$@" && grep -Eq -- "$want" "$T/tls.got"; then
		pass "openssl $d: accepted ($(cat "$T/tls.got"))"
	else
		bad "openssl $d: not accepted as /$want/ ($*)"
		grep -Ei 'alert|error|Cipher is|^New' "$T/tls.out" | head -4 | sed 's/^/    | /'
	fi
}
refuse_o() {	# DESC ARGS...
	local d=$1
	shift
	if ossl "$@"; then
		bad "openssl $d: the server accepted it ($(cat "$T/tls.got"))"
	else
		pass "openssl $d: refused"
	fi
}
accept_g() {	# DESC PRIORITY WANT_ERE
	if gtls "$2" && grep -Eq -- "$3" "$T/tls.got"; then
		pass "gnutls-cli $1: accepted ($(cat "$T/tls.got"))"
	else
		bad "gnutls-cli $1: not accepted as /$3/ ($2)"
		grep -Ei 'error|alert|Description' "$T/tls.out" | head -4 | sed 's/^/    | /'
	fi
}
refuse_g() {	# DESC PRIORITY
	if gtls "$2"; then
		bad "gnutls-cli $1: the server accepted it ($(cat "$T/tls.got"))"
	else
		pass "gnutls-cli $1: refused"
	fi
}

# What every certificate type must refuse and accept.
common() {	# KIND (ECDSA|RSA)
	local k=$1
	refuse_o "$k TLS 1.0" -tls1 -cipher 'DEFAULT@SECLEVEL=0'
	refuse_o "$k TLS 1.1" -tls1_1 -cipher 'DEFAULT@SECLEVEL=0'
	refuse_o "$k TLS 1.2 CBC + SHA-1 MAC (ECDHE-$k-AES128-SHA)" \
	    -tls1_2 -cipher "ECDHE-$k-AES128-SHA@SECLEVEL=0"
	refuse_o "$k TLS 1.2 CBC (ECDHE-$k-AES256-SHA384)" \
	    -tls1_2 -cipher "ECDHE-$k-AES256-SHA384"
	refuse_o "$k TLS 1.2 CBC (ECDHE-$k-AES128-SHA256)" \
	    -tls1_2 -cipher "ECDHE-$k-AES128-SHA256"
	accept_o "$k TLS 1.3" '^TLSv1\.3 ' -tls1_3
	accept_o "$k TLS 1.3 TLS_AES_128_GCM_SHA256" 'TLS_AES_128_GCM_SHA256' \
	    -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
	accept_o "$k TLS 1.3 TLS_AES_256_GCM_SHA384" 'TLS_AES_256_GCM_SHA384' \
	    -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384
	accept_o "$k TLS 1.3 TLS_CHACHA20_POLY1305_SHA256" 'CHACHA20' \
	    -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256
	accept_o "$k TLS 1.2 ECDHE-$k-AES128-GCM-SHA256" "ECDHE-$k-AES128-GCM-SHA256" \
	    -tls1_2 -cipher "ECDHE-$k-AES128-GCM-SHA256"
	accept_o "$k TLS 1.2 ECDHE-$k-AES256-GCM-SHA384" "ECDHE-$k-AES256-GCM-SHA384" \
	    -tls1_2 -cipher "ECDHE-$k-AES256-GCM-SHA384"
	accept_o "$k TLS 1.2 ECDHE-$k-CHACHA20-POLY1305" "ECDHE-$k-CHACHA20-POLY1305" \
	    -tls1_2 -cipher "ECDHE-$k-CHACHA20-POLY1305"

	refuse_g "$k TLS 1.0" 'NORMAL:-VERS-ALL:+VERS-TLS1.0'
	refuse_g "$k TLS 1.1" 'NORMAL:-VERS-ALL:+VERS-TLS1.1'
	refuse_g "$k TLS 1.2 CBC (AES-128-CBC, SHA1 and SHA256 MACs)" \
	    'NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-CBC:+AES-256-CBC:-MAC-ALL:+SHA1:+SHA256:+SHA384'
	refuse_g "$k TLS 1.2 static RSA key exchange" \
	    'NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+RSA'
	refuse_g "$k TLS 1.2 DHE-RSA" 'NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+DHE-RSA'
	accept_g "$k TLS 1.3" 'NORMAL:-VERS-ALL:+VERS-TLS1.3' '^\(TLS1\.3-'
	accept_g "$k TLS 1.2 ECDHE AES-128-GCM" \
	    'NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM' \
	    "^\(TLS1\.2-X\.509\)-\(ECDHE-[^)]*\)-\($k-.*\(AES-128-GCM\)"
	accept_g "$k TLS 1.2 ECDHE ChaCha20-Poly1305" \
	    'NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+CHACHA20-POLY1305' \
	    '^\(TLS1\.2-X\.509\)-\(ECDHE-.*\(CHACHA20-POLY1305\)'
}

# ---- the default priorities, EC certificate (what userca issue-server makes) ----
ed_conf "$T/ec.ini" "$H"
ed_start ec "$T/ec.ini"
hs /healthz
expect_http "HTTPS /healthz with curl" 200
common ECDSA
ed_stop ec

# ---- RSA certificate: static RSA key exchange would now be possible ----
must "an RSA server certificate (openssl req)" openssl req -x509 -newkey rsa:2048 \
    -nodes -keyout "$T/rsa.key" -out "$T/rsa.crt" -days 2 -subj /CN=localhost \
    -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1'
ed_conf "$T/rsa.ini" "$H" "cert = $T/rsa.crt
key = $T/rsa.key"
ed_start rsa "$T/rsa.ini"
common RSA
refuse_o "RSA TLS 1.2 static RSA, CBC, SHA-1 MAC (AES128-SHA)" \
    -tls1_2 -cipher 'AES128-SHA@SECLEVEL=0'
refuse_o "RSA TLS 1.2 static RSA, GCM (AES128-GCM-SHA256)" \
    -tls1_2 -cipher 'AES128-GCM-SHA256'
refuse_o "RSA TLS 1.2 static RSA, GCM (AES256-GCM-SHA384)" \
    -tls1_2 -cipher 'AES256-GCM-SHA384'
refuse_o "RSA TLS 1.2 DHE-RSA-AES128-SHA (CBC, SHA-1)" \
    -tls1_2 -cipher 'DHE-RSA-AES128-SHA@SECLEVEL=0'
ed_stop rsa

# ---- [https] priorities replaces the default ----
ed_conf "$T/only13.ini" "$H" "priorities = SECURE128:-VERS-ALL:+VERS-TLS1.3"
ed_start only13 "$T/only13.ini"
accept_o "priorities TLS 1.3 only: TLS 1.3" '^TLSv1\.3 ' -tls1_3
refuse_o "priorities TLS 1.3 only: TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256" \
    -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256
ed_stop only13

ed_conf "$T/bad.ini" "$H" "priorities = NORMAL:+NO-SUCH-THING"
expect_rc 1 "priorities GnuTLS rejects: userca-enrolld --check fails" \
    "$USERCA_ENROLLD" --config "$T/bad.ini" --check
check_stderr "... and names the setting" 'priorities'
summary
