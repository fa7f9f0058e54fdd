#!/usr/bin/env bash
# Errors that say what to do (issue 16, item 3), table-driven over every
# command: each usage error exits 2 and names the flag or value; unknown
# commands and options suggest the closest; help CMD, -h and --help work
# everywhere and end with Examples; a missing CA home says how it was
# looked up.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# exit|stderr pattern|arguments (split on spaces)
while IFS='|' read -r want pat args; do
	[[ -z $want || $want == \#* ]] && continue
	# shellcheck disable=SC2086
	run uc $args
	if [[ $RC -eq $want ]] && grep -Eq -- "$pat" "$ERR"; then
		pass "userca $args -> $want, /$pat/"
	else
		bad "userca $args: exit $RC (want $want), stderr lacks /$pat/"; _show
	fi
done <<'TABLE'
2|init: --org NAME is required|init --base-url http://x.test
2|init: --base-url URL is required|init --org X
2|unknown option '--baseurl'; did you mean '--base-url'\?|init --org X --baseurl http://x
2|unknown command 'lsit'; did you mean 'list'\?|lsit
2|unknown command 'revok'; did you mean 'revoke'\?|revok --user x
2|--ttl '3': a lifetime with a unit.*72h or 7d|token --user kim --ttl 3
2|--ttl '3': a lifetime with a unit|batch x.csv --out d --ttl 3
2|--jobs 'many'|batch x.csv --out d --jobs many
2|batch: USERS.csv .* is required|batch --out d
2|--out DIR \(or --dry-run\) is required|batch x.csv
2|--p12-format 'old': use modern or legacy|batch x.csv --out d --p12-format old
2|--days 'x'|issue --user k --p12 k.p12 --days x
2|issue: --user U is required|issue --p12 k.p12
2|--csr FILE or --p12 OUT is required|issue --user k
2|--out .*--out is for --csr|issue --user k --p12 a.p12 --out b
2|did you mean '--user'\?|issue --usr k --p12 k.p12
2|--serial HEX, --user U or --csv FILE is required|revoke
2|--reason 'because'|revoke --user k --reason because
2|--serial 'zz'|revoke --serial zz
2|--status 'ok': use valid, revoked or expired|list --status ok
2|--expiring 'soon'|list --expiring soon
2|export: --serial HEX is required|export --format pem
2|--format 'txt': use pem, der|export --serial 01 --format txt
2|--dns NAME \(or --ip IP\) is required|issue-server --out d
2|issue-server: --out DIR is required|issue-server --dns a.test
2|--out CA.crt is required|root sign-intermediate req.csr
2|subcommand 'sign'|root sign req.csr --out x
2|subcommand 'frob': use 'request', 'install' or 'rollover'|intermediate frob
2|--root ROOT.crt is required|intermediate install ca.crt
2|--days 'x'|crl --days x
2|--runway N \(with --out\) is required|crl --out x
2|publish takes no arguments|publish extra
2|--user U or --all-expired|token --cancel
2|--home needs a value|list --home
2|unknown option '-x'|list -x
1|./pki is not a CA home \(no --home, \$USERCA_HOME unset\)|list
1|/nonexistent is not a CA home \(from --home\)|list --home /nonexistent
TABLE

USERCA_HOME=$T/nohome run uc list
check_stderr "the home from \$USERCA_HOME says so" "nohome is not a CA home \(from \\\$USERCA_HOME\)"

for c in init root intermediate issue batch token issue-server revoke crl publish list export; do
	run uc help "$c"
	check_eq "help $c exits 0" "$RC" 0
	check_grep "help $c ends with Examples" "^Examples:" "$OUT"
	tail -1 "$OUT" | grep -q "userca $c" && pass "help $c: the last line is an example" \
	    || bad "help $c: last line '$(tail -1 "$OUT")'"
	run uc "$c" -h
	check_eq "$c -h exits 0" "$RC" 0
	run uc "$c" --help
	check_grep "$c --help is usage first" "^Usage: userca $c" "$OUT"
done
check "--version" uc --version
check_stdout "--version names the version" "^userca [0-9]"
summary
