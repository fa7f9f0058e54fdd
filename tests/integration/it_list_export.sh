#!/usr/bin/env bash
# list (text and --json, filters, --expiring with the clock moved by
# $USERCA_NOW) and export (pem, der, iis-mapping), checked against openssl.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

H=$T/pki
ca_init "$H" --intermediate --profile modern
export USERCA_HOME=$H
printf 'p12-password-1\n' >"$T/p12.pass"

must "issue alice" uc issue --user alice --email alice@example.test --p12 "$T/alice.p12" --password-file "$T/p12.pass"
ALICE=$(serial_from_out)
must "issue bob" uc issue --user bob --p12 "$T/bob.p12" --password-file "$T/p12.pass"
BOB=$(serial_from_out)
new_csr "$T/carol" -subj /CN=carol
must "issue carol --csr" uc issue --user carol --csr "$T/carol.csr" --out "$T/carol.pem"
openssl x509 -in "$T/carol.pem" -out "$T/carol.crt"
CAROL=$(cert_serial "$T/carol.crt")
p12_cert "$T/alice.p12" "$T/p12.pass" "$T/alice.crt"
p12_cert "$T/bob.p12" "$T/p12.pass" "$T/bob.crt"
must "revoke bob" uc revoke --user bob --reason keyCompromise

# expected facts per user, from openssl: serial|notAfter(ISO)|sha256
facts() {
	local u=$1 c=$T/$1.crt na
	na=$(date -u -d "$(openssl x509 -in "$c" -noout -enddate | sed 's/^notAfter=//')" +%Y-%m-%dT%H:%M:%SZ)
	echo "$u $(cert_serial "$c") $na $(cert_fp "$c" sha256)"
}
{ facts alice; facts bob; facts carol; } >"$T/facts"

# ---- list, text ----
must "list (text)" uc list
cp "$OUT" "$T/list.txt"
check "list text: one line per certificate with serial, status, notAfter, user (alice, carol valid; bob revoked)" py '
import sys, re
want = {"alice": "valid", "bob": "revoked", "carol": "valid"}
facts = {l.split()[0]: l.split() for l in open(sys.argv[2])}
norm = lambda s: s.replace(":", "").upper().lstrip("0")
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    if f: rows.setdefault(norm(f[0]), []).append(f)
errs = []
for u, (_, serial, na, _) in facts.items():
    r = rows.get(serial, [])
    if len(r) != 1: errs.append("%s: %d lines with serial %s" % (u, len(r), serial)); continue
    f = r[0]
    if f[1] != want[u]: errs.append("%s: status %s, want %s" % (u, f[1], want[u]))
    if f[2] != na: errs.append("%s: not_after %s, want %s" % (u, f[2], na))
    if f[3] != u: errs.append("%s: user column %s" % (u, f[3]))
    if "CN=" + u not in " ".join(f[4:]).replace(" = ", "="): errs.append("%s: subject %r" % (u, " ".join(f[4:])))
if errs: print("\n".join(errs)); sys.exit(1)
' "$T/list.txt" "$T/facts"

must "list --status revoked (text)" uc list --status revoked
check_grep "list --status revoked shows bob" "$BOB" "$OUT"
check_nogrep "list --status revoked hides alice" "$ALICE" "$OUT"
check_nogrep "list --status revoked hides carol" "$CAROL" "$OUT"
must "list --user alice (text)" uc list --user alice
check_grep "list --user alice shows alice" "$ALICE" "$OUT"
check_nogrep "list --user alice hides bob and carol" "$BOB|$CAROL" "$OUT"

# ---- list --json ----
# lj NAME ARGS...: list --json ARGS into $T/NAME.json (must succeed, must parse)
lj() {
	local n=$1; shift
	must "list --json $*" uc list --json "$@"
	cp "$OUT" "$T/$n.json"
	check "list --json $*: a JSON array" \
	    py 'import json, sys; d = json.load(open(sys.argv[1])); assert isinstance(d, list)' "$T/$n.json"
}
# users NAME: the users of the kind=user rows, sorted, comma-separated
users() {
	py 'import json, sys
d = json.load(open(sys.argv[1]))
print(",".join(sorted(r["user"] for r in d if r.get("kind") == "user")))' "$T/$1.json" 2>/dev/null || echo "(unparsable)"
}
lj all
check "list --json: fields, values match the certificates" py '
import json, sys
d = json.load(open(sys.argv[1]))
facts = {l.split()[0]: l.split() for l in open(sys.argv[2])}
norm = lambda s: s.replace(":", "").upper().lstrip("0")
keys = {"serial", "user", "kind", "subject", "status", "not_before", "not_after", "sha256", "revoked_at", "reason", "method"}
errs = []
for r in d:
    missing = keys - set(r)
    if missing: errs.append("row %s lacks %s" % (r.get("serial"), sorted(missing)))
by = {norm(r["serial"]): r for r in d if "serial" in r}
for u, (_, serial, na, fp) in facts.items():
    r = by.get(serial)
    if r is None: errs.append("%s (%s) not listed" % (u, serial)); continue
    chk = lambda ok, m: ok or errs.append("%s: %s (row %r)" % (u, m, r))
    chk(r.get("user") == u, "user")
    chk(r.get("kind") == "user", "kind user")
    chk(r.get("not_after") == na, "not_after %s" % na)
    chk(str(r.get("sha256", "")).replace(":", "").lower() == fp, "sha256 %s" % fp)
    chk("CN=" + u in str(r.get("subject", "")).replace(" = ", "="), "subject has CN")
    if u == "bob":
        chk(r.get("status") == "revoked", "status revoked")
        chk(r.get("revoked_at") not in (None, ""), "revoked_at set")
        chk(r.get("reason") in ("keyCompromise", 1, "1"), "reason keyCompromise")
    else:
        chk(r.get("status") == "valid", "status valid")
        chk(r.get("revoked_at") is None, "revoked_at null")
    chk(r.get("method") == ("csr" if u == "carol" else "p12"), "method")
if errs: print("\n".join(errs)); sys.exit(1)
' "$T/all.json" "$T/facts"
lj alice --user alice
check_eq "list --json --user alice" "$(users alice)" alice
lj revoked --status revoked
check_eq "list --json --status revoked" "$(users revoked)" bob
lj valid --status valid
check_eq "list --json --status valid" "$(users valid)" alice,carol
lj expired --status expired
check_eq "list --json --status expired (none yet)" "$(users expired)" ""

# ---- --expiring, and the clock moved with $USERCA_NOW ----
lj exp400 --expiring 400
check_eq "list --expiring 400: the valid ones" "$(users exp400)" alice,carol
lj exp1 --expiring 1
check_eq "list --expiring 1: none" "$(users exp1)" ""
now=$(date +%s)
export USERCA_NOW=$((now + 360 * 86400))
lj later10 --expiring 10
check_eq "360 days later (USERCA_NOW): --expiring 10 lists alice and carol" "$(users later10)" alice,carol
lj later1 --expiring 1
check_eq "360 days later: --expiring 1 lists none" "$(users later1)" ""
lj latervalid --status valid
check_eq "360 days later: still valid" "$(users latervalid)" alice,carol
export USERCA_NOW=$((now + 400 * 86400))
lj laterexp --status expired
check "400 days later: --status expired includes alice and carol" py '
import json, sys
d = json.load(open(sys.argv[1]))
u = {r["user"] for r in d if r.get("kind") == "user"}
assert {"alice", "carol"} <= u, u
' "$T/laterexp.json"
lj latervalid2 --status valid
check_eq "400 days later: no valid user certificates" "$(users latervalid2)" ""
unset USERCA_NOW

# ---- export ----
must "export --format pem (stdout)" uc export --serial "$ALICE" --format pem
cp "$OUT" "$T/exp.pem"
check "export pem: openssl x509 parses it" openssl x509 -in "$T/exp.pem" -noout
check_eq "export pem: it is alice's certificate" "$(cert_fp "$T/exp.pem" sha256 2>/dev/null)" "$(cert_fp "$T/alice.crt" sha256)"
must "export --format der --out" uc export --serial "$ALICE" --format der --out "$T/exp.der"
openssl x509 -in "$T/exp.pem" -outform DER -out "$T/exp-from-pem.der" 2>/dev/null || true
check_same "export der == export pem converted by openssl" "$T/exp.der" "$T/exp-from-pem.der"
check "export der: openssl x509 -inform DER parses it" openssl x509 -inform DER -in "$T/exp.der" -noout
must "export --format der (stdout)" uc export --serial "$ALICE" --format der
check_same "export der to stdout == --out" "$OUT" "$T/exp.der"
must "export --format pem --out" uc export --serial "$ALICE" --format pem --out "$T/exp2.pem"
check_same "export pem --out == stdout" "$T/exp2.pem" "$T/exp.pem"

must "export --format iis-mapping" uc export --serial "$ALICE" --format iis-mapping
cp "$OUT" "$T/iis.txt"
check_eq "iis-mapping: exactly one line" "$(wc -l <"$T/iis.txt" | tr -d ' ')" 1
check_nogrep "iis-mapping: no PEM header" '-----(BEGIN|END)' "$T/iis.txt"
check_eq "iis-mapping == openssl base64 -A of the DER" "$(tr -d '\n' <"$T/iis.txt")" "$(openssl base64 -A -in "$T/exp-from-pem.der")"

# serial as typed: lower case with colons; revoked certificates export too
typed=$(openssl x509 -in "$T/carol.crt" -noout -serial | sed 's/^serial=//' | tr A-F a-f | sed 's/../&:/g; s/:$//')
must "export --serial $typed (lower case, colons)" uc export --serial "$typed" --format pem
check_eq "...is carol's certificate" "$(openssl x509 -in "$OUT" -noout -fingerprint -sha256 2>/dev/null | sed 's/^.*=//' | tr -d ':' | tr A-F a-f)" \
    "$(cert_fp "$T/carol.crt" sha256)"
must "export of a revoked certificate (bob)" uc export --serial "$BOB" --format pem
check_eq "...is bob's certificate" "$(openssl x509 -in "$OUT" -noout -fingerprint -sha256 2>/dev/null | sed 's/^.*=//' | tr -d ':' | tr A-F a-f)" \
    "$(cert_fp "$T/bob.crt" sha256)"

expect_rc 1 "export of an unknown serial" uc export --serial 0123456789ABCDEF0123 --format pem
check_stderr "...naming it" '0123456789ABCDEF0123'
expect_rc 2 "export without --serial" uc export --format pem

db_checks "$H"
summary
