# shellcheck shell=bash disable=SC2034  # TT, PW, SER, PIN: the tests' own
#
# What the two gateway tests (it_gateway_nginx.sh, it_gateway_apache.sh)
# share, after lib.sh and lib_enrolld.sh (named lib_* so tests/CMakeLists.txt
# does not run it as a test).
#   gw_home KIND       the CA home $H (--intermediate, modern), its published
#                      public/gateway/KIND-userca.conf checked, the TLS pair
#                      in $T/tls, userca-enrolld "d" on $HTTP_PORT (CRL poll
#                      1 s), PIN = the root certificate's SHA-256
#   gw_users           a CSV batch of alice, bob (modern PKCS#12) and carol
#                      (legacy) into $T/out; PW[user], SER[user] from its
#                      manifest
#   tt ROW WANT GOT    a truth-table row, checked now and kept for
#   tt_print TITLE W   the table at the end (W: width of the case column)

declare -A TT=()	# truth table: row -> "want|got"
TT_ORDER=()
tt() {	# ROW WANT GOT
	TT_ORDER+=("$1")
	TT[$1]="$2|$3"
	check_eq "$1" "$3" "$2"
}

tt_print() {	# TITLE WIDTH
	local r want got mark
	echo
	echo "Truth table ($1):"
	printf "  %-${2}s %-38s %s\n" "case" "want" "got"
	for r in "${TT_ORDER[@]}"; do
		want=${TT[$r]%%|*}
		got=${TT[$r]#*|}
		mark=ok
		[[ $want == "$got" ]] || mark=WRONG
		printf "  %-${2}s %-38s %s  %s\n" "$r" "$want" "$got" "$mark"
	done
	echo
}

gw_home() {	# KIND: nginx or apache
	H=$T/pki
	BASE_URL=http://127.0.0.1:$HTTP_PORT
	ca_init "$H" --intermediate --profile modern
	[[ -f $H/public/gateway/$1-userca.conf ]] ||
	    fail "public/gateway/$1-userca.conf is not published by userca init"
	must "issue-server for $1" uc issue-server --home "$H" --dns localhost \
	    --ip 127.0.0.1 --out "$T/tls" --passphrase-file "$PASSFILE"
	cat >"$T/d.ini" <<EOF
[ca]
home = $H
[http]
listen = 127.0.0.1:$HTTP_PORT
[crl]
poll = 1s
EOF
	ed_start d "$T/d.ini"
	PIN=$(openssl x509 -in "$H/root/root.crt" -outform DER |
	    openssl dgst -sha256 | sed 's/^.*= *//')
}

declare -A PW=() SER=()
gw_users() {
	local u s p
	cat >"$T/users.csv" <<'EOF'
username,email,name,p12_format
alice,alice@example.test,Alice Adams,
bob,bob@example.test,Bob Brown,
carol,carol@example.test,Carol Clark,legacy
EOF
	must "batch 3 users (carol legacy)" uc batch "$T/users.csv" \
	    --out "$T/out" --home "$H"
	while IFS=, read -r u s p; do
		PW[$u]=$p
		SER[$u]=$(norm_serial <<<"$s")
	done < <("$PY" -c 'import csv, sys
for r in csv.DictReader(open(sys.argv[1], newline="")):
    print("%s,%s,%s" % (r["username"], r["serial"], r["password"]))' \
	    "$T/out/manifest.csv")
	[[ -n ${PW[alice]:-} && -n ${PW[bob]:-} && -n ${PW[carol]:-} ]] ||
	    fail "manifest.csv: no password for every user"
}
