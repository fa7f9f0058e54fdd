#!/usr/bin/env bash
# `userca batch` output, read by tools we did not write: 20 users with
# p12_format legacy / modern / not given (default modern), then a run with
# --p12-format legacy.  Every .p12 opens with its manifest password in
# `openssl pkcs12 -info` (no -legacy) and in python3-cryptography (key matches
# certificate, CN = username, SAN email = the CSV's email, serial = the
# manifest's, chain included); legacy files are PBE-SHA1-3DES with a SHA-1
# MAC (never RC2), modern ones AES-256-CBC/PBKDF2/hmacWithSHA256 with a
# SHA-256 MAC.  Files are 0600; passwords are xxxxxx-xxxxxx-xxxxxx over
# 23456789abcdefghjkmnpqrstuvwxyz and all distinct; manifest.csv is valid CSV
# with the documented header.  A re-run issues nothing and keeps the
# manifest; --reissue replaces every certificate and revokes the old ones
# (superseded, in userca list --json and in the published CRL); --tokens
# writes enrollment URLs whose SHA-256 alone is stored (a plain-http lab CA:
# --allow-http-links; it_enroll_url checks that links are https otherwise).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BASE_URL=http://127.0.0.1:1
H=$T/pki
ca_init "$H" --intermediate --profile modern --allow-http-links
[[ $(split_pem "$H/public/ca-bundle.pem" "$T/pub") -eq 2 ]] || fail "ca-bundle.pem does not hold 2 certificates"

# ---- the users ------------------------------------------------------------------
# p01..p20: p12_format legacy when i % 3 == 0, modern when i % 3 == 1, not
# given otherwise; no email for p05 and p11; a UPN for even i.
{
	echo 'username,email,name,upn,ou,p12_format'
	for i in $(seq 1 20); do
		u=$(printf 'p%02d' "$i")
		email=$u@example.com
		[[ $i -eq 5 || $i -eq 11 ]] && email=
		upn=
		[[ $((i % 2)) -eq 0 ]] && upn=$u@corp.example
		case $((i % 3)) in 0) fmt=legacy ;; 1) fmt=modern ;; *) fmt= ;; esac
		echo "$u,$email,\"User $i, Test\",$upn,Unit $((i % 4)),$fmt"
	done
} >"$T/users.csv"
# q01..q06 under --p12-format legacy: q03 says modern, q05 says legacy.
{
	echo 'username,email,p12_format'
	for i in $(seq 1 6); do
		u=$(printf 'q%02d' "$i")
		fmt=
		[[ $i -eq 3 ]] && fmt=modern
		[[ $i -eq 5 ]] && fmt=legacy
		echo "$u,$u@example.com,$fmt"
	done
} >"$T/legacy.csv"

# ---- checks over one output folder ----------------------------------------------------
# p12check.py CSV OUT DEFAULT_FORMAT ISSUING.pem: python3-cryptography side;
# prints "user<TAB>file<TAB>password<TAB>format" for the openssl side.
cat >"$T/p12check.py" <<'EOF'
import csv, os, re, stat, sys
from cryptography import x509
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID, ExtensionOID

csvfile, out, default, issuing = sys.argv[1:5]
HDR = ["username", "email", "serial", "not_after", "p12_file", "password",
       "enroll_url", "token_expires"]
PW = re.compile(r"^[23456789abcdefghjkmnpqrstuvwxyz]{6}-[23456789abcdefghjkmnpqrstuvwxyz]{6}-[23456789abcdefghjkmnpqrstuvwxyz]{6}$")
errs = []
users = {r["username"]: r for r in csv.DictReader(open(csvfile, newline=""))}
ca = x509.load_pem_x509_certificate(open(issuing, "rb").read())

mpath = os.path.join(out, "manifest.csv")
if stat.S_IMODE(os.stat(mpath).st_mode) != 0o600:
    errs.append("manifest.csv mode %o, want 600" % stat.S_IMODE(os.stat(mpath).st_mode))
rows = list(csv.reader(open(mpath, newline="", encoding="utf-8"), strict=True))
if not rows or rows[0] != HDR:
    errs.append("manifest header %r" % (rows[0] if rows else None))
man = {}
for r in rows[1:]:
    if len(r) != 8:
        errs.append("manifest row with %d cells: %r" % (len(r), r)); continue
    d = dict(zip(HDR, r))
    if d["username"] in man:
        errs.append("%s listed twice" % d["username"])
    man[d["username"]] = d
if sorted(man) != sorted(users):
    errs.append("manifest lists %r, the CSV %r" % (sorted(man), sorted(users)))
p12s = sorted(n for n in os.listdir(out) if n.endswith(".p12"))
if p12s != sorted(u + ".p12" for u in users):
    errs.append(".p12 files %r" % p12s)

for u, d in sorted(man.items()):
    want = users.get(u, {})
    fmt = want.get("p12_format") or default
    if d["p12_file"] != u + ".p12":
        errs.append("%s: p12_file %r" % (u, d["p12_file"]))
    if not PW.match(d["password"]):
        errs.append("%s: password %r is not xxxxxx-xxxxxx-xxxxxx" % (u, d["password"]))
    if d["email"] != (want.get("email") or ""):
        errs.append("%s: manifest email %r" % (u, d["email"]))
    if d["enroll_url"] or d["token_expires"]:
        errs.append("%s: token cells set without --tokens" % u)
    if not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", d["not_after"]):
        errs.append("%s: not_after %r" % (u, d["not_after"]))
    path = os.path.join(out, u + ".p12")
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode != 0o600:
            errs.append("%s.p12 mode %o, want 600" % (u, mode))
        p = pkcs12.load_pkcs12(open(path, "rb").read(), d["password"].encode())
    except Exception as e:
        errs.append("%s: python3-cryptography cannot open it: %s" % (u, e)); continue
    c = p.cert.certificate
    pub = lambda k: k.public_bytes(ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo)
    if p.key is None or pub(p.key.public_key()) != pub(c.public_key()):
        errs.append("%s: the key does not match the certificate" % u)
    cns = [a.value for a in c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if cns != [u]:
        errs.append("%s: CN %r" % (u, cns))
    try:
        san = c.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        emails = san.get_values_for_type(x509.RFC822Name)
    except x509.ExtensionNotFound:
        emails = []
    if emails != ([d["email"]] if d["email"] else []):
        errs.append("%s: SAN email %r, manifest %r" % (u, emails, d["email"]))
    if "%X" % c.serial_number != d["serial"].lstrip("0"):
        errs.append("%s: certificate serial %X, manifest %s" % (u, c.serial_number, d["serial"]))
    if c.issuer != ca.subject:
        errs.append("%s: issuer %s" % (u, c.issuer.rfc4514_string()))
    chain = [x.certificate for x in p.additional_certs]
    if ca not in chain:
        errs.append("%s: the issuing CA is not in the bundle" % u)
    if not p.cert.friendly_name:
        errs.append("%s: no friendly name on the certificate" % u)
    print("%s\t%s\t%s\t%s" % (u, path, d["password"], fmt))
if errs:
    sys.stderr.write("\n".join(errs) + "\n"); sys.exit(1)
EOF

ALLPW=$T/all-passwords
: >"$ALLPW"

# check_out TAG CSV OUT DEFAULT_FORMAT: everything about one output folder.
check_out() {
	local tag=$1 csv=$2 out=$3 def=$4 u f pw fmt n=0 nl=0 nm=0 bad_info=0
	run "$PY" "$T/p12check.py" "$csv" "$out" "$def" "$T/pub1.pem"
	if [[ $RC -eq 0 ]]; then
		pass "$tag: python3-cryptography opens every .p12 with its manifest password; key, CN, SAN email, serial, chain, modes, password form"
	else
		bad "$tag: python3-cryptography checks"; _show
	fi
	cp "$OUT" "$T/$tag.list"
	check_mode "$tag: manifest.csv is 0600" "$out/manifest.csv" 600
	while IFS=$'\t' read -r u f pw fmt; do
		n=$((n + 1))
		printf '%s\n' "$pw" >>"$ALLPW"
		printf '%s\n' "$pw" >"$T/pw"
		if ! openssl pkcs12 -info -noout -in "$f" -passin "file:$T/pw" >"$T/info" 2>&1; then
			bad "$tag: $u: openssl pkcs12 -info (no -legacy) cannot open it"
			sed 's/^/    | /' "$T/info" | head -5
			bad_info=1
			continue
		fi
		if grep -qi 'rc2' "$T/info"; then
			bad "$tag: $u: RC2 in the bundle"; bad_info=1
		fi
		if [[ $fmt == legacy ]]; then
			nl=$((nl + 1))
			if ! grep -q '^Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC' "$T/info" ||
			    ! grep -q '^PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC' "$T/info" ||
			    ! grep -q '^MAC: sha1,' "$T/info" || grep -q 'AES\|PBES2' "$T/info"; then
				bad "$tag: $u: not PBE-SHA1-3DES with a SHA-1 MAC (p12_format legacy)"
				sed 's/^/    | /' "$T/info"; bad_info=1
			fi
		else
			nm=$((nm + 1))
			if ! grep -q '^Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, .*PRF hmacWithSHA256' "$T/info" ||
			    ! grep -q '^PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, .*PRF hmacWithSHA256' "$T/info" ||
			    ! grep -q '^MAC: sha256,' "$T/info" || grep -q 'TripleDES\|3DES' "$T/info"; then
				bad "$tag: $u: not AES-256-CBC/PBKDF2/hmacWithSHA256 with a SHA-256 MAC (p12_format modern)"
				sed 's/^/    | /' "$T/info"; bad_info=1
			fi
		fi
	done <"$T/$tag.list"
	[[ $bad_info -eq 0 && $n -gt 0 ]] &&
	    pass "$tag: openssl pkcs12 -info opens all $n bundles ($nl legacy: 3DES + SHA-1 MAC, no RC2; $nm modern: AES-256/PBKDF2 + SHA-256 MAC)"
	return 0
}

# ---- 1. first run ---------------------------------------------------------------------
O=$T/out
expect_rc 0 "batch of 20 users (p12_format legacy/modern/default)" \
    uc batch "$T/users.csv" --home "$H" --out "$O" --jobs 2
check_stdout "summary: 20 issued" '^.*users\.csv: 20 rows: 20 issued, 0 skipped \(already issued\), 0 failed, 0 superseded'
check_out first "$T/users.csv" "$O" modern
check_eq "6 of the 20 are legacy (p12_format legacy on p03, p06, ..., p18)" \
    "$(awk -F'\t' '$4 == "legacy"' "$T/first.list" | wc -l)" 6
cp "$O/manifest.csv" "$T/manifest.first"

# ---- 2. --p12-format legacy --------------------------------------------------------
OL=$T/out-legacy
expect_rc 0 "batch --p12-format legacy" \
    uc batch "$T/legacy.csv" --home "$H" --out "$OL" --jobs 2 --p12-format legacy
check_out legacy-flag "$T/legacy.csv" "$OL" legacy
check_eq "--p12-format legacy: q03 (row says modern) is the only modern one" \
    "$(awk -F'\t' '$4 == "modern" { print $1 }' "$T/legacy-flag.list")" q03

# All passwords of both runs are distinct.
check_eq "26 passwords, all distinct" "$(sort "$ALLPW" | uniq | wc -l)/$(wc -l <"$ALLPW")" "26/26"

# ---- 3. re-run: nothing new ----------------------------------------------------------
ncert=$(sqlite3 "$H/userca.db" "select count(*) from certificates")
expect_rc 0 "re-run of the same batch" uc batch "$T/users.csv" --home "$H" --out "$O" --jobs 2
check_stdout "re-run summary: 0 issued, 20 skipped" 'users\.csv: 20 rows: 0 issued, 20 skipped \(already issued\), 0 failed, 0 superseded'
check_eq "re-run added no certificate" "$(sqlite3 "$H/userca.db" "select count(*) from certificates")" "$ncert"
check_same "re-run: manifest.csv unchanged (same serials, same passwords)" "$T/manifest.first" "$O/manifest.csv"
: >"$ALLPW"
check_out rerun "$T/users.csv" "$O" modern

# ---- 4. --reissue ------------------------------------------------------------------------
old=$(sqlite3 "$H/userca.db" "select group_concat(c.serial, ' ') from certificates c join users u on u.id = c.user_id where u.username like 'p%' and c.status = 'valid'")
expect_rc 0 "batch --reissue" uc batch "$T/users.csv" --home "$H" --out "$O" --jobs 2 --reissue
check_stdout "--reissue summary: 20 issued, 20 superseded" 'users\.csv: 20 rows: 20 issued, 0 skipped \(already issued\), 0 failed, 20 superseded'
: >"$ALLPW"
check_out reissue "$T/users.csv" "$O" modern
check_eq "--reissue: every user of the CSV has exactly one valid certificate" \
    "$(sqlite3 "$H/userca.db" "select count(*) from users u where u.username like 'p%' and (select count(*) from certificates c where c.user_id = u.id and c.status = 'valid') = 1")" 20
check_eq "--reissue: 20 new passwords, none reused" \
    "$(cat "$ALLPW" <(cut -d, -f6 "$T/manifest.first" | tail -n +2 | tr -d '"') | sort -u | wc -l)" 40
uc list --home "$H" --json >"$T/list.json"
check "--reissue: the old serials are revoked, reason superseded, superseded_by the user's new certificate (userca list --json, userca.db)" "$PY" -c '
import json, sqlite3, sys
old = sys.argv[3].split()
lst = {c["serial"]: c for c in json.load(open(sys.argv[1]))}
db = sqlite3.connect(sys.argv[2])
errs = []
if len(old) != 20: errs.append("%d old serials" % len(old))
for s in old:
    c = lst.get(s)
    if c is None or c["status"] != "revoked" or c["reason"] != "superseded":
        errs.append("%s: %r" % (s, c and (c["status"], c["reason"])))
    r = db.execute("select o.superseded_by = n.id from certificates o join certificates n on n.user_id = o.user_id and n.status = ? where o.serial = ?", ("valid", s)).fetchone()
    if not r or r[0] != 1:
        errs.append("%s: superseded_by is not the new certificate" % s)
if errs: print("\n".join(errs)); sys.exit(1)
' "$T/list.json" "$H/userca.db" "$old"
openssl crl -in "$H/public/crl.pem" -noout -text >"$T/crl.txt" 2>&1 || bad "openssl crl cannot read public/crl.pem"
check "--reissue: the published CRL lists every old serial with reason Superseded (openssl crl -text)" "$PY" -c '
import re, sys
text = open(sys.argv[1]).read()
blocks = re.split(r"\n\s*Serial Number: ", text)[1:]
got = {}
for b in blocks:
    serial = b.split()[0].upper().lstrip("0")
    got[serial] = "Superseded" in b.split("Serial Number")[0]
errs = ["%s not in the CRL" % s for s in sys.argv[2].split() if s.lstrip("0") not in got]
errs += ["%s without reason Superseded" % s for s in sys.argv[2].split() if got.get(s.lstrip("0")) is False]
if errs: print("\n".join(errs)); sys.exit(1)
' "$T/crl.txt" "$old"
check "--reissue: the published CRL verifies against the issuing CA (openssl crl -CAfile)" \
    openssl crl -in "$H/public/crl.pem" -noout -CAfile "$T/pub1.pem"

# ---- 5. --tokens ---------------------------------------------------------------------------
{
	echo 'username,email'
	for i in $(seq 1 5); do echo "t0$i,t0$i@example.com"; done
} >"$T/tokens.csv"
OT=$T/out-tokens
expect_rc 0 "batch --tokens" uc batch "$T/tokens.csv" --home "$H" --out "$OT" --tokens
check_stdout "--tokens summary: 5 issued" 'tokens\.csv: 5 rows: 5 issued, 0 skipped'
check_mode "--tokens: manifest.csv is 0600" "$OT/manifest.csv" 600
check_eq "--tokens: no .p12 written" "$(find "$OT" -name '*.p12' | wc -l)" 0
check_eq "--tokens: no certificate issued" "$(sqlite3 "$H/userca.db" "select count(*) from certificates c join users u on u.id = c.user_id where u.username like 't0%'")" 0
check "--tokens: manifest enroll_url is $BASE_URL/enroll/<22 base64url chars>, token_expires ~7 days ahead, no p12 cells; userca.db holds sha256(token) only" "$PY" -c '
import csv, datetime, hashlib, re, sqlite3, sys
man, dbpath, base = sys.argv[1:4]
rows = list(csv.DictReader(open(man, newline="")))
db = sqlite3.connect(dbpath)
errs = []
if sorted(r["username"] for r in rows) != ["t0%d" % i for i in range(1, 6)]:
    errs.append("manifest users %r" % [r["username"] for r in rows])
toks = set()
for r in rows:
    m = re.fullmatch(re.escape(base) + r"/enroll/([A-Za-z0-9_-]{22})", r["enroll_url"])
    if not m:
        errs.append("%s: enroll_url %r" % (r["username"], r["enroll_url"])); continue
    tok = m.group(1)
    toks.add(tok)
    if r["serial"] or r["p12_file"] or r["password"]:
        errs.append("%s: p12 cells set with --tokens" % r["username"])
    exp = datetime.datetime.strptime(r["token_expires"], "%Y-%m-%dT%H:%M:%SZ")
    now = datetime.datetime.utcnow()
    if not (datetime.timedelta(days=6, hours=23) < exp - now <= datetime.timedelta(days=7, minutes=1)):
        errs.append("%s: token_expires %s" % (r["username"], r["token_expires"]))
    got = db.execute("select t.hash, length(t.hash), t.used_at, t.expires_at from tokens t join users u on u.id = t.user_id where u.username = ?", (r["username"],)).fetchall()
    if len(got) != 1:
        errs.append("%s: %d token rows" % (r["username"], len(got))); continue
    h, n, used, expires = got[0]
    if n != 32 or bytes(h) != hashlib.sha256(tok.encode()).digest():
        errs.append("%s: stored hash is not sha256(token text)" % r["username"])
    if used is not None:
        errs.append("%s: token already used" % r["username"])
    if datetime.datetime.utcfromtimestamp(expires).strftime("%Y-%m-%dT%H:%M:%SZ") != r["token_expires"]:
        errs.append("%s: expires_at %d vs manifest %s" % (r["username"], expires, r["token_expires"]))
if len(toks) != 5: errs.append("%d distinct tokens" % len(toks))
if errs: print("\n".join(errs)); sys.exit(1)
' "$OT/manifest.csv" "$H/userca.db" "$BASE_URL"
# The token text must appear nowhere in the store (database, WAL, journal).
sed -n 's|.*/enroll/\([A-Za-z0-9_-]*\)".*|\1|p' "$OT/manifest.csv" >"$T/tokens.txt"
check_eq "--tokens: 5 token strings extracted from the manifest" "$(wc -l <"$T/tokens.txt")" 5
leak=0
for f in "$H"/userca.db*; do
	if grep -aqF -f "$T/tokens.txt" "$f"; then bad "--tokens: a token string is stored in ${f##*/}"; leak=1; fi
done
[[ $leak -eq 0 ]] && pass "--tokens: no token string in userca.db, -wal or -shm"
expect_rc 0 "--tokens re-run" uc batch "$T/tokens.csv" --home "$H" --out "$OT" --tokens
check_stdout "--tokens re-run: pending tokens are skipped" 'tokens\.csv: 5 rows: 0 issued, 5 skipped'
check_eq "--tokens re-run: still one token per user" "$(sqlite3 "$H/userca.db" "select count(*) from tokens")" 5

db_checks "$H"
summary
