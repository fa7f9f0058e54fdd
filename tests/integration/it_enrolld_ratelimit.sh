#!/usr/bin/env bash
# The failed-token rate limit as a NAT sees it ([limits] rate_limit = 3):
# after three failures from 127.0.0.1 a fourth bad token gets 429, but a
# neighbour behind the same address with a valid, unused link still gets
# its token JSON and its certificate; once used, that link is a failure
# like any other (429); another address is not limited.  (Per-/64 counting
# and slot collisions: tests/unit/test_ratelimit.c.)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"

H=$T/pki
ed_home "$H"
ED_CACERT=$H/public/ca-bundle.pem
ed_conf "$T/ed.ini" "$H" "[limits]
rate_limit = 3"
ed_start ed "$T/ed.ini"
API=/api/v1/enroll
rnd() { head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '='; }

GOOD=$(new_token "$H" neighbour) || fail "userca token"
for i in 1 2 3; do
	hs "$API/$(rnd)"
	expect_http "bad token $i from 127.0.0.1" 404 token_unknown
done
hs "$API/$(rnd)"
expect_http "4th bad token from 127.0.0.1" 429 rate_limited
hs "/enroll/$(rnd)"
expect_http "the page for a bad token from 127.0.0.1" 429 rate_limited
hs "$API/$GOOD"
expect_http "the neighbour's valid token (GET)" 200
check_eq "... for the neighbour" "$(jget "$T/body" user)" neighbour
hs "/enroll/$GOOD"
expect_http "the neighbour's enrollment page" 200
new_csr "$T/nb" -subj /CN=neighbour
hs "$API/$GOOD/csr" -H 'Content-Type: application/pkcs10' --data-binary "@$T/nb.csr"
expect_http "the neighbour enrolls (POST csr)" 200
hs "$API/$GOOD"
expect_http "the used token is a failure like any other" 429 rate_limited
hs "$API/$(rnd)" --interface 127.0.0.2
expect_http "another address is not limited" 404 token_unknown
ed_stop ed
summary
