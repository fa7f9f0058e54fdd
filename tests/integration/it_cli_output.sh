#!/usr/bin/env bash
# Safe, scriptable output (issue 16, item 4): no output file is replaced
# without --force, --json everywhere with one set of key names, list has a
# header and the email/UPN columns, revoke lists what it revoked and is
# idempotent, token --list/--cancel, revoking a user cancels the user's
# unused tokens, init prints fingerprints and warns about an https base URL.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

H=$T/h
run uc init --home "$H" --org "$ORG" --base-url https://pki.example.test/ \
    --enroll-url https://pki.example.test:8443 --intermediate --profile modern \
    --passphrase-file "$PASSFILE"
check_eq "init succeeds" "$RC" 0
check_stderr "init warns about an https --base-url" "base-url https://pki.example.test is https"
check_stdout "init prints the root fingerprint" "^root CA SHA-256: +([0-9A-F]{2}:){31}[0-9A-F]{2}$"
check_stdout "init prints the issuing fingerprint" "^issuing CA SHA-256: +([0-9A-F]{2}:){31}"
check_stdout "init prints the next commands" "userca issue-server.*userca batch|userca batch"
want=$(openssl x509 -in "$H/root/root.crt" -noout -fingerprint -sha256 | sed 's/.*=//')
check_stdout "the root fingerprint is the certificate's" "$want"
check_grep "the trailing / is stripped" "base_url *= *https://pki.example.test$" "$H/userca.conf"

export USERCA_HOME=$H
must "issue kim" uc issue --user kim --email kim@example.com --upn kim@corp.example.test \
    --p12 "$T/kim.p12" --password-file "$PASSFILE" --passphrase-file "$PASSFILE"
must "issue kim again" uc issue --user kim --p12 "$T/kim2.p12" --password-file "$PASSFILE" \
    --passphrase-file "$PASSFILE"
S1=$(uc list --user kim --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["serial"])')

# --force for every single-shot output
echo old >"$T/exists"
for cmd in "export --serial $S1 --format pem --out $T/exists" \
	   "crl --root --runway 2 --out $T/exists --passphrase-file $PASSFILE"; do
	# shellcheck disable=SC2086
	expect_rc 1 "refused without --force: ${cmd%% *}" uc $cmd
	check_stderr "${cmd%% *} names --force" "already exists.*--force"
	check_eq "${cmd%% *} left the file alone" "$(cat "$T/exists")" old
done
mkdir -p "$T/tls"; echo old >"$T/tls/tls.crt"
expect_rc 1 "issue-server --out refuses an existing tls.crt" uc issue-server --dns a.test \
    --out "$T/tls" --passphrase-file "$PASSFILE"
check_stderr "issue-server names --force" "tls.crt: already exists.*--force"
check_eq "tls.crt untouched" "$(cat "$T/tls/tls.crt")" old
check "issue-server --force replaces it" uc issue-server --dns a.test --out "$T/tls" --force \
    --passphrase-file "$PASSFILE"
check "export --force replaces it" uc export --serial "$S1" --format pem --out "$T/exists" --force
check_grep "exported PEM" "BEGIN CERTIFICATE" "$T/exists"
run uc intermediate request --home "$T/h2" --org X --base-url http://x.test --out "$T/exists"
check_eq "intermediate request --out refused (exit 1)" "$RC" 1

# list: header, email and UPN
run uc list --user kim
check_stdout "list has a header" "^SERIAL +STATUS +NOT_AFTER +USER +EMAIL +UPN"
check_stdout "list shows email and UPN" "kim@example.com +kim@corp.example.test"
run uc list --user kim --json
check_stdout "list --json has email and upn" '"upn": "kim@corp.example.test"'

# tokens
must "token" uc token --user kim --json
check_stdout "token --json keys" '"user": "kim"'
run uc token --list --user kim
check_stdout "token --list shows a pending token" "kim +pending"
must "token bob" uc token --user bob --ttl 1h
check "token --cancel --user bob" uc token --cancel --user bob
check_stdout "one cancelled" "^1 unused token of bob cancelled"
run uc token --list --user bob --json
check_stdout "bob's token is no longer pending" '"status": "expired"'
check "token --cancel --all-expired" uc token --cancel --all-expired --json
check_stdout "forgot bob's" '"cancelled": 1'
expect_rc 2 "token --cancel needs --user or --all-expired" uc token --cancel
check_stderr "names both" "--user U or --all-expired"

# revoke: lists, JSON, cancels tokens, idempotent
run uc revoke --user kim --yes --json --passphrase-file "$PASSFILE"
check_eq "revoke --user exits 0" "$RC" 0
n=$("$PY" -c 'import json,sys; d=json.load(sys.stdin); print(len(d["revoked"]), d["crl_number"] > 0, d["tokens_cancelled"])' <"$OUT")
check_eq "revoke --json: two serials, a CRL number, one token cancelled" "$n" "2 True 1"
run uc revoke --user kim --yes
check_eq "revoking again exits 0" "$RC" 0
check_stderr "with a notice" "has no unrevoked certificate; nothing to do"
run uc revoke --serial "$S1"
check_eq "revoking a revoked serial exits 0" "$RC" 0
check_stderr "with a notice" "already revoked"
must "issue lee" uc issue --user lee --p12 "$T/lee.p12" --password-file "$PASSFILE" \
    --passphrase-file "$PASSFILE"
run uc revoke --user lee --passphrase-file "$PASSFILE"
check_stdout "revoke lists the serial it revoked" "^revoked [0-9A-F]+ \(unspecified\)"
check_stdout "and the CRL number" "CRL number [0-9]+ published"
run uc crl --json --passphrase-file "$PASSFILE"
check_stdout "crl --json has crl_number" '"crl_number": [0-9]+'
run uc publish --json
check_stdout "publish --json has dir" '"dir": '
summary
