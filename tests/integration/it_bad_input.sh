#!/usr/bin/env bash
# Bad input: each gives the documented exit status (1 error, 2 usage), a
# message on stderr naming what was wrong, and changes nothing (userca.db and
# public/ compared before/after).  Plus --help on every command.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

H=$T/pki
ca_init "$H" --intermediate --profile modern
printf 'p12-password-1\n' >"$T/p12.pass"
must "issue alice" uc issue --home "$H" --user alice --email alice@example.test \
    --p12 "$T/alice.p12" --password-file "$T/p12.pass"
ALICE=$(serial_from_out)
export USERCA_HOME=$H

snap() { home_state "$H" >"$T/state.before"; }
# unchanged DESC: the home is as it was at the last snap
unchanged() {
	home_state "$H" >"$T/state.after"
	if cmp -s "$T/state.before" "$T/state.after"; then
		pass "$1: userca.db and public/ unchanged"
	else
		bad "$1: the home changed"; diff "$T/state.before" "$T/state.after" | head -20 | sed 's/^/    | /'
	fi
}
no_user() {	# a failed issue must not leave a user record behind either
	check_eq "$2: no user record '$1' created" \
	    "$(sqlite3 "$H/userca.db" "select count(*) from users where username = '$1'")" 0
}

# ---- the root passphrase ----
printf 'not the passphrase\n' >"$T/wrong.pass"
snap
expect_rc 1 "crl --root with a wrong passphrase" uc crl --root --passphrase-file "$T/wrong.pass"
check_stderr "...says passphrase" 'passphrase'
unchanged "crl --root, wrong passphrase"
USERCA_PASSPHRASE='not the passphrase' expect_rc 1 "crl --root with a wrong \$USERCA_PASSPHRASE" uc crl --root
check_stderr "...says passphrase" 'passphrase'
unchanged "crl --root, wrong \$USERCA_PASSPHRASE"
# no passphrase and no terminal (setsid: no controlling tty to prompt on)
expect_rc 1 "crl --root with no passphrase and no TTY" setsid -w "$USERCA" crl --root </dev/null
check_stderr "...says passphrase" 'passphrase'
unchanged "crl --root, no passphrase"
expect_rc 1 "crl --root with a missing --passphrase-file" uc crl --root --passphrase-file "$T/nonexistent.pass"
check_stderr "...naming the file" 'nonexistent\.pass'
unchanged "crl --root, missing passphrase file"
check "crl --root works with the right passphrase (the failures above were about the passphrase)" \
    uc crl --root --passphrase-file "$PASSFILE"

# ---- bad CSRs ----
# A DER CSR whose signature is broken: flip a bit in its last byte (inside
# the ECDSA signature's s); it still parses but no longer verifies.
new_csr "$T/sig" -subj /CN=sig
openssl req -in "$T/sig.csr" -outform DER -out "$T/sig.der"
cp "$T/sig.der" "$T/badsig.der"
len=$(stat -c %s "$T/badsig.der")
last=$(xxd -s $((len - 1)) -l 1 -p "$T/badsig.der")
printf "%02x" $((0x$last ^ 0x01)) | xxd -r -p | dd of="$T/badsig.der" bs=1 seek=$((len - 1)) conv=notrunc status=none
openssl req -inform DER -in "$T/badsig.der" -noout 2>/dev/null || fail "test setup: the flipped CSR should still parse"
# (openssl req -verify exits 0 either way in OpenSSL 3.0: read what it says)
v=$(openssl req -inform DER -in "$T/badsig.der" -verify -noout 2>&1 || true)
if [[ $v == *'verify OK'* || $v != *'verify failure'* ]]; then
	fail "test setup: the flipped CSR still verifies"
fi
run openssl req -inform DER -in "$T/sig.der" -verify -noout
check_stderr "test setup: the unflipped DER CSR verifies (openssl req -verify)" 'verify OK'
snap
expect_rc 1 "issue --csr with a broken signature" uc issue --user mallory --csr "$T/badsig.der" --out "$T/mallory.pem"
check_stderr "...says signature" 'signature'
check_nofile "...no certificate written" "$T/mallory.pem"
unchanged "broken CSR signature"
no_user mallory "broken CSR signature"

openssl req -new -newkey rsa:1024 -nodes -keyout "$T/weak.key" -out "$T/weak.csr" -subj /CN=weak 2>/dev/null
snap
expect_rc 1 "issue --csr with an RSA-1024 key" uc issue --user weak --csr "$T/weak.csr" --out "$T/weak.pem"
check_stderr "...says 1024/RSA/too small" '1024|rsa|2048|small|short|weak'
check_nofile "...no certificate written" "$T/weak.pem"
unchanged "RSA-1024 CSR"
no_user weak "RSA-1024 CSR"

head -c 600 /dev/urandom >"$T/garbage.csr"
snap
expect_rc 1 "issue --csr with a garbage file" uc issue --user junk --csr "$T/garbage.csr" --out "$T/junk.pem"
check_stderr "...naming the CSR" 'garbage\.csr|csr'
check_nofile "...no certificate written" "$T/junk.pem"
unchanged "garbage CSR"
no_user junk "garbage CSR"

# A certificate is not a CSR.
snap
expect_rc 1 "issue --csr with a certificate instead of a CSR" uc issue --user certy \
    --csr "$H/issuing/ca.crt" --out "$T/certy.pem"
unchanged "certificate as CSR"

snap
expect_rc 1 "issue --csr with a missing file" uc issue --user ghost --csr "$T/no-such.csr"
check_stderr "...naming the file" 'no-such\.csr'
unchanged "missing CSR file"

new_csr "$T/ok" -subj /CN=ok
snap
expect_rc 1 "issue with an invalid --email" uc issue --user emailbad --email 'not an email' --csr "$T/ok.csr" --out "$T/emailbad.pem"
check_stderr "...says email" 'email'
unchanged "invalid email"

# ---- revoke ----
snap
expect_rc 1 "revoke --user of an unknown user" uc revoke --user nobody-here
check_stderr "...says unknown user, naming it" '(unknown|no such|not found).*nobody-here|nobody-here.*(unknown|no such|not found)'
unchanged "revoke unknown user"

snap
expect_rc 1 "revoke --serial of an unknown serial" uc revoke --serial 0123456789ABCDEF0123
check_stderr "...says unknown serial, naming it" '0123456789ABCDEF0123'
unchanged "revoke unknown serial"

snap
expect_rc "1|2" "revoke --serial that is not hex" uc revoke --serial 'zz-not-hex'
check_stderr "...naming it" 'zz-not-hex|serial'
unchanged "revoke bad serial"

snap
expect_rc "1|2" "revoke with an unknown --reason" uc revoke --serial "$ALICE" --reason becauseISaidSo
check_stderr "...naming the reason" 'becauseISaidSo|reason'
unchanged "revoke bad reason"

must "revoke alice (first time)" uc revoke --serial "$ALICE" --reason keyCompromise
snap
expect_rc 0 "revoke the same serial again: a notice, exit 0 (idempotent offboarding)" uc revoke --serial "$ALICE" --reason superseded
check_stderr "...says already revoked" 'already revoked'
unchanged "second revoke by serial"
check_eq "...the reason stays keyCompromise" \
    "$(sqlite3 "$H/userca.db" "select reason from certificates where ltrim(upper(serial), '0') = '$ALICE'")" 1
expect_rc 0 "revoke --user alice whose only certificate is revoked: a notice, exit 0" uc revoke --user alice
unchanged "second revoke by user"

# ---- init over an existing CA ----
snap
expect_rc 1 "init over an existing CA" uc init --org "$ORG" --base-url "$BASE_URL" --intermediate \
    --profile modern --passphrase-file "$PASSFILE"
check_stderr "...says it already exists" 'already|exist'
unchanged "init over an existing CA"

printf 'short\n' >"$T/short.pass"
expect_rc 1 "init with a passphrase shorter than 8 characters" uc init --home "$T/short" --org "$ORG" \
    --base-url "$BASE_URL" --profile modern --passphrase-file "$T/short.pass"
check_stderr "...says passphrase" 'passphrase'
check_nofile "...no root key left behind" "$T/short/root/root.key"

# ---- usage errors: exit 2 ----
snap
expect_rc 2 "issue without --user" uc issue --p12 "$T/x.p12" --password-file "$T/p12.pass"
check_stderr "...naming --user" 'user'
expect_rc 2 "issue with both --csr and --p12" uc issue --user both --csr "$T/ok.csr" --p12 "$T/both.p12"
expect_rc 2 "issue with neither --csr nor --p12" uc issue --user neither
expect_rc 2 "revoke with neither --serial nor --user" uc revoke
expect_rc 2 "init without --org" uc init --home "$T/noorg" --base-url "$BASE_URL" --passphrase-file "$PASSFILE"
check_nofile "...creates nothing" "$T/noorg/root/root.key"
expect_rc 2 "an unknown option" uc list --frobnicate
check_stderr "...naming it" 'frobnicate'
expect_rc "1|2" "issue with an unknown --p12-format" uc issue --user fmt --p12 "$T/fmt.p12" --p12-format rc2-40
check_nofile "...no file written" "$T/fmt.p12"
expect_rc "1|2" "export with an unknown --format" uc export --serial "$ALICE" --format xml
expect_rc 2 "an unknown command" uc frobnicate
check_stderr "...naming it" 'frobnicate'
expect_rc 2 "no command at all" uc
unchanged "usage errors"
check_nofile "no x.p12 from the usage errors" "$T/x.p12"
check_nofile "no both.p12 from the usage errors" "$T/both.p12"

# a home with no CA
expect_rc 1 "list in a home without a CA" uc list --home "$T/empty"
check_nofile "...does not create a database there" "$T/empty/userca.db"

# ---- --help everywhere ----
help_ok() {
	run "$@" --help
	if [[ $RC -eq 0 ]] && grep -qi 'usage' "$OUT"; then
		pass "'${*:2} --help': exit 0, Usage on stdout"
	else
		bad "'${*:2} --help': exit $RC"; _show
	fi
}
help_ok "$USERCA"
for c in init "root sign-intermediate" "intermediate request" "intermediate install" issue batch token \
    issue-server revoke crl publish list export; do
	# shellcheck disable=SC2086
	help_ok "$USERCA" $c
done
run "$USERCA" --help
for c in init root intermediate issue batch token issue-server revoke crl publish list export; do
	check_stdout "'userca --help' mentions $c" "(^|[^a-z-])$c([^a-z-]|\$)"
done

db_checks "$H"
summary
