#!/usr/bin/env bash
# Enrollment links are never plain http unless the CA asked for it.
# A CA whose --base-url is http and that has no --enroll-url: `token` and
# `batch --tokens` exit 1 with a message naming --enroll-url and record no
# token.  With an https --enroll-url (or an https --base-url) the links are
# https.  `init --allow-http-links` (recorded in userca.conf) is the opt-in
# for tests and labs.  `init --enroll-url http://...` without it is refused.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

printf 'username,email\nu1,u1@example.test\nu2,u2@example.test\n' >"$T/users.csv"
ntokens() { sqlite3 "$1/userca.db" 'select count(*) from tokens'; }

# ---- http base URL, no enrollment URL: refused --------------------------------
H=$T/plain
BASE_URL=http://pki.example.test
ca_init "$H" --intermediate --profile modern
check_nogrep "userca.conf: no enroll_url derived from an http base URL" '^enroll_url' "$H/userca.conf"
check_grep "userca.conf: allow_http_links = 0" '^allow_http_links = 0$' "$H/userca.conf"
expect_rc 1 "token on a CA with only an http base URL" uc token --home "$H" --user alice
check_stderr "...names --enroll-url" '--enroll-url'
check_stderr "...and says why (not https)" 'not https'
check_nogrep "...prints no link" 'enroll/' "$OUT"
expect_rc 1 "batch --tokens on that CA" uc batch "$T/users.csv" --home "$H" --out "$T/o1" --tokens
check_stderr "...names --enroll-url" '--enroll-url'
check_nofile "...writes no manifest" "$T/o1/manifest.csv"
expect_rc 1 "batch --tokens --dry-run is refused too" uc batch "$T/users.csv" --home "$H" --dry-run --tokens
check_eq "no token recorded" "$(ntokens "$H")" 0
check "batch without --tokens (PKCS#12 files) still works there" \
    uc batch "$T/users.csv" --home "$H" --out "$T/o1p12"

# A home from before: userca.conf names an http enroll_url.
sed -i 's|^base_url = .*|&\nenroll_url = http://pki.example.test:8443|' "$H/userca.conf"
expect_rc 1 "token with enroll_url = http://... in userca.conf" uc token --home "$H" --user alice
check_stderr "...names --enroll-url" '--enroll-url'
check_stderr "...and the URL" 'http://pki\.example\.test:8443'
expect_rc 1 "init --enroll-url http://... is refused" uc init --home "$T/plain2" --org "$ORG" \
    --base-url "$BASE_URL" --enroll-url http://pki.example.test:8443 --passphrase-file "$PASSFILE"
check_stderr "...saying it is not https" 'not https'
check_nofile "...and makes no home" "$T/plain2/userca.conf"

# ---- an https enrollment URL: links are https ------------------------------------------
E=$T/https
ca_init "$E" --intermediate --profile modern --enroll-url https://enroll.example.test:8443
check_grep "userca.conf: enroll_url recorded" '^enroll_url = https://enroll\.example\.test:8443$' "$E/userca.conf"
expect_rc 0 "token with an https --enroll-url" uc token --home "$E" --user alice
check_stdout "...prints an https link under --enroll-url" \
    '^https://enroll\.example\.test:8443/enroll/[A-Za-z0-9_-]{22}$'
expect_rc 0 "batch --tokens with an https --enroll-url" \
    uc batch "$T/users.csv" --home "$E" --out "$T/o2" --tokens
check_grep "...manifest links are https under --enroll-url" \
    '"?https://enroll\.example\.test:8443/enroll/[A-Za-z0-9_-]{22}"?' "$T/o2/manifest.csv"
check_eq "...3 tokens recorded" "$(ntokens "$E")" 3

S=$T/httpsbase
BASE_URL=https://pki.example.test
ca_init "$S" --profile modern
check_grep "https --base-url: enroll_url defaults to it" '^enroll_url = https://pki\.example\.test$' "$S/userca.conf"
expect_rc 0 "token with an https --base-url and no --enroll-url" uc token --home "$S" --user alice
check_stdout "...prints an https link" '^https://pki\.example\.test/enroll/'

# ---- the opt-in for tests and labs ------------------------------------------------
L=$T/lab
BASE_URL=http://lab.example.test
ca_init "$L" --intermediate --profile modern --allow-http-links
check_grep "userca.conf: allow_http_links = 1" '^allow_http_links = 1$' "$L/userca.conf"
expect_rc 0 "token on a CA made with --allow-http-links" uc token --home "$L" --user alice
check_stdout "...prints the http link" '^http://lab\.example\.test/enroll/[A-Za-z0-9_-]{22}$'
expect_rc 0 "batch --tokens on that CA" uc batch "$T/users.csv" --home "$L" --out "$T/o3" --tokens
check_grep "...manifest links are http" '"?http://lab\.example\.test/enroll/' "$T/o3/manifest.csv"
ca_init "$T/lab2" --profile modern --allow-http-links --enroll-url http://lab.example.test:8080
expect_rc 0 "--allow-http-links with an http --enroll-url" uc token --home "$T/lab2" --user bob
check_stdout "...prints a link under that URL" '^http://lab\.example\.test:8080/enroll/'

# The air-gapped online home takes the same options.
expect_rc 0 "intermediate request --enroll-url https://..." uc intermediate request --home "$T/ag" \
    --org "$ORG" --base-url http://pki.example.test --enroll-url https://enroll.example.test \
    --profile modern --out "$T/ag.csr"
check_grep "...recorded in its userca.conf" '^enroll_url = https://enroll\.example\.test$' "$T/ag/userca.conf"

summary
