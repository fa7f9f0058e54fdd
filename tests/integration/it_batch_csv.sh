#!/usr/bin/env bash
# `userca batch` against the hostile CSV corpus in tests/data/csv: every
# NAME.csv is run from a copy of that folder (so reports read NAME.csv:LINE)
# and its stderr is compared, line for line, with NAME.expected, together
# with the exit status (0 none failed, 3 some rows failed, 1 fatal) and the
# counts on the summary line.  Each case runs on its own copy of one CA:
#   1. --dry-run: the report; nothing is written (userca.db unchanged, no
#      output folder);
#   2. a real run (unless the case says dry-run only): the same report, as
#      many .p12 files, manifest rows and valid certificates as it says;
#   3. the same command again: the same report, everyone skipped;
#   4. --dry-run again: everyone "already issued".
# Then what the corpus cannot say by itself: manifest.csv is valid CSV whose
# cells never start a spreadsheet formula; a fatal error (header) makes
# nothing, with or without --dry-run; fields with quoted commas, doubled
# quotes and UTF-8 reach the certificate intact; p12_format per row; and a
# --dry-run of 100,000 rows (its time is printed, not asserted).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BASE_URL=http://127.0.0.1:1
DATA=${USERCA_TESTDATA:-$UC_SRC/tests/data}/csv
[[ -f $DATA/gen_csv.py ]] || fail "corpus not found in $DATA"

H0=$T/pristine
ca_init "$H0" --intermediate --profile modern

mkdir "$T/csv"
cp "$DATA"/*.csv "$DATA"/*.expected "$T/csv/"
cd "$T/csv"
for g in big_field rows_10k; do
	"$PY" "$DATA/gen_csv.py" "$g" . || fail "gen_csv.py $g"
done

# What a dry run must not change.
store_state() {
	sqlite3 "$1/userca.db" \
	    'select count(*) from users; select count(*) from certificates;
	     select count(*) from tokens; select count(*) from crls;
	     select count(*) from audit;'
}

# Python checks on an output folder, shared by the cases below.
cat >"$T/manifest.py" <<'EOF'
import csv, os, stat, sys
out, want = sys.argv[1], int(sys.argv[2])
HDR = ["username", "email", "serial", "not_after", "p12_file", "password",
       "enroll_url", "token_expires"]
errs = []
path = os.path.join(out, "manifest.csv")
st = os.stat(path)
if stat.S_IMODE(st.st_mode) != 0o600:
    errs.append("manifest.csv mode %o" % stat.S_IMODE(st.st_mode))
with open(path, newline="", encoding="utf-8") as f:
    rows = list(csv.reader(f, strict=True))
if not rows or rows[0] != HDR:
    errs.append("header %r" % (rows[0] if rows else None))
body = rows[1:]
if len(body) != want:
    errs.append("%d manifest rows, want %d" % (len(body), want))
for r in body:
    if len(r) != 8:
        errs.append("row of %d cells: %r" % (len(r), r)); continue
    for c in r:
        if c[:1] in ("=", "+", "-", "@", "\t", "\r"):
            errs.append("cell %r would run as a spreadsheet formula" % c)
    # a neutralised cell is the value behind one leading "'"
    p12 = r[4]
    if p12.startswith("'") and p12[1:2] in ("=", "+", "-", "@"):
        p12 = p12[1:]
    user = r[0][1:] if r[0].startswith("'") else r[0]
    if p12 != user + ".p12":
        errs.append("p12_file %r for user %r" % (r[4], r[0]))
    elif not os.path.isfile(os.path.join(out, p12)):
        errs.append("%s missing" % p12)
p12s = [n for n in os.listdir(out) if n.endswith(".p12")]
if len(p12s) != want:
    errs.append("%d .p12 files, want %d" % (len(p12s), want))
if errs:
    print("\n".join(errs)); sys.exit(1)
EOF

# ---- the corpus ----------------------------------------------------------------
ncases=0
for exp in *.expected; do
	n=${exp%.expected}
	f=$n.csv
	[[ -f $f ]] || { bad "$n: $f missing from the corpus"; continue; }
	ncases=$((ncases + 1))
	want_rc=$(sed -n 's/^# exit: //p' "$exp")
	read -r rows issue failed < <(sed -n 's/^# rows: \([0-9]*\) issue: \([0-9]*\) failed: \([0-9]*\)$/\1 \2 \3/p' "$exp") || true
	mode=$(sed -n 's/^# mode: //p' "$exp")
	grep -v '^# ' "$exp" >"$T/$n.want" || true
	[[ -n $want_rc ]] || { bad "$n: no '# exit:' line in $exp"; continue; }

	h=$T/h-$n
	cp -a "$H0" "$h"
	store_state "$h" >"$T/state.before"

	# report_is WHAT: stderr of the last run is exactly $n.want
	report_is() {
		if diff -u "$T/$n.want" "$ERR" >"$T/diff.txt"; then
			pass "$n ($1): stderr is exactly $exp"
		else
			bad "$n ($1): stderr differs from $exp"
			sed 's/^/    | /' "$T/diff.txt" | head -40
		fi
	}
	# summary_is WHAT ERE: stdout is that one summary line (nothing when fatal)
	summary_is() {
		if [[ $want_rc == 1 ]]; then
			check_cond "$n ($1): no summary on stdout after a fatal error" "[[ ! -s '$OUT' ]]"
		elif [[ $(wc -l <"$OUT") -eq 1 ]] && grep -Eq "^$f: $2" "$OUT"; then
			pass "$n ($1): summary line"
		else
			bad "$n ($1): summary line: want /$f: $2/, got: $(cat "$OUT")"
		fi
	}

	# 1. dry run
	expect_rc "$want_rc" "$n: --dry-run exit status" uc batch "$f" --home "$h" --dry-run --out "$T/out-dry-$n"
	report_is "dry run"
	summary_is "dry run" "$rows rows: $issue would be issued, 0 skipped \(already issued\), $failed with errors$"
	check_nofile "$n: --dry-run creates no output folder" "$T/out-dry-$n"
	store_state "$h" >"$T/state.after"
	check_same "$n: --dry-run adds nothing to userca.db" "$T/state.before" "$T/state.after"

	if [[ $want_rc == 1 ]]; then
		# fatal: a real run fails the same way and makes nothing either
		expect_rc 1 "$n: batch (not --dry-run) exit status" uc batch "$f" --home "$h" --out "$T/out-$n" --jobs 2
		report_is "issue"
		summary_is "issue" ""
		check_nofile "$n: no output folder after a fatal error" "$T/out-$n"
		store_state "$h" >"$T/state.after"
		check_same "$n: nothing added to userca.db after a fatal error" "$T/state.before" "$T/state.after"
		continue
	fi
	if [[ $mode == dry-run ]]; then
		continue
	fi

	# 2. real run
	o=$T/out-$n
	expect_rc "$want_rc" "$n: batch exit status" uc batch "$f" --home "$h" --out "$o" --jobs 2
	report_is "issue"
	summary_is "issue" "$rows rows: $issue issued, 0 skipped \(already issued\), $failed failed, 0 superseded; "
	nvalid=$(sqlite3 "$h/userca.db" "select count(*) from certificates where kind = 'user' and status = 'valid'")
	check_eq "$n: $issue valid user certificates in userca.db" "$nvalid" "$issue"
	if [[ $issue -gt 0 ]]; then
		check "$n: manifest.csv and the .p12 files agree ($issue users)" "$PY" "$T/manifest.py" "$o" "$issue"
	fi

	# 3. the same again: nothing new
	expect_rc "$want_rc" "$n: batch re-run exit status" uc batch "$f" --home "$h" --out "$o" --jobs 2
	report_is "re-run"
	summary_is "re-run" "$rows rows: 0 issued, $issue skipped \(already issued\), $failed failed, 0 superseded; "
	nvalid=$(sqlite3 "$h/userca.db" "select count(*) from certificates where kind = 'user'")
	check_eq "$n: re-run issued nothing" "$nvalid" "$issue"

	# 4. dry run again: everyone already issued
	expect_rc "$want_rc" "$n: second --dry-run exit status" uc batch "$f" --home "$h" --dry-run
	summary_is "second dry run" "$rows rows: 0 would be issued, $issue skipped \(already issued\), $failed with errors$"
done
check_cond "the corpus has at least 25 cases ($ncases)" "[[ $ncases -ge 25 ]]"

# ---- what the corpus cannot say by itself ----------------------------------------

# p12_password FOLDER USER: the password the manifest gives for USER
p12_password() {
	"$PY" -c '
import csv, sys
for r in csv.DictReader(open(sys.argv[1] + "/manifest.csv", newline="")):
    if r["username"] in (sys.argv[2], "'"'"'" + sys.argv[2]):
        print(r["password"])' "$1" "$2"
}

# p12_ou FILE PASSWORD: the OU of the certificate in a PKCS#12 (python3-cryptography)
p12_ou() {
	"$PY" -c '
import sys
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
k, c, extra = pkcs12.load_key_and_certificates(open(sys.argv[1], "rb").read(), sys.argv[2].encode())
sys.stdout.buffer.write("|".join(a.value for a in c.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)).encode())
' "$1" "$2" 2>&1 || true
}

# Formula injection: the certificate and userca.db keep the real value; the
# manifest neutralises its cells with a leading "'".
o=$T/out-formula
run "$PY" -c '
import csv, sys
rows = {r["username"]: r for r in csv.DictReader(open(sys.argv[1], newline=""))}
want = {"fx1": "'"'"'=1+2@example.com", "fx2": "'"'"'+1@example.com",
        "fx3": "'"'"'-cmd@example.com", "'"'"'@fx4": "fx4@example.com",
        "fx5": "fx5@example.com"}
errs = []
for u, e in want.items():
    if u not in rows: errs.append("no manifest row for %r (have %r)" % (u, sorted(rows))); continue
    if rows[u]["email"] != e: errs.append("%s: email cell %r, want %r" % (u, rows[u]["email"], e))
if "'"'"'@fx4" in rows and rows["'"'"'@fx4"]["p12_file"] != "'"'"'@fx4.p12":
    errs.append("@fx4: p12_file cell %r" % rows["'"'"'@fx4"]["p12_file"])
if errs: print("\n".join(errs)); sys.exit(1)
' "$o/manifest.csv"
if [[ $RC -eq 0 ]]; then pass "formula: manifest cells starting with = + - @ carry a leading '"; else bad "formula: manifest neutralisation"; _show; fi
check_file "formula: the bundle of user @fx4 is @fx4.p12" "$o/@fx4.p12"
check_eq "formula: userca.db keeps the raw name and ou" \
    "$(sqlite3 "$T/h-formula/userca.db" "select name || '|' || ou from users where username = 'fx1'")" \
    '=HYPERLINK("http://evil.example/","click")|+1'
check_eq "formula: the certificate's OU is the raw value (=1+1)" \
    "$(p12_ou "$o/fx3.p12" "$(p12_password "$o" fx3)")" '=1+1'
check_eq "formula: the certificate's OU is the raw value (@SUM(A1:A2))" \
    "$(p12_ou "$o/fx2.p12" "$(p12_password "$o" fx2)")" '@SUM(A1:A2)'

# Quoting: commas, doubled quotes and UTF-8 reach userca.db and the certificate.
check_eq "quoting: name with a quoted comma" \
    "$(sqlite3 "$T/h-quoting/userca.db" "select name from users where username = 'alice'")" 'Smith, Alice'
check_eq "quoting: ou with doubled quotes and a comma" \
    "$(sqlite3 "$T/h-quoting/userca.db" "select ou from users where username = 'alice'")" 'Sales "East", EMEA'
check_eq "quoting: name with doubled quotes, empty quoted ou is absent" \
    "$(sqlite3 "$T/h-quoting/userca.db" "select name || '|' || coalesce(ou, 'NULL') from users where username = 'dave'")" 'D "the" man|NULL'
check_eq "quoting: the rejected multi-line rows made no user record" \
    "$(sqlite3 "$T/h-quoting/userca.db" "select count(*) from users where username in ('bob', 'carol', 'erin', 'grace')")" 0
check_eq "quoting: frank's OU in the certificate (python3-cryptography)" \
    "$(p12_ou "$T/out-quoting/frank.p12" "$(p12_password "$T/out-quoting" frank)")" 'R&D, "Lab"'
# UTF-16 (a byte order mark: Excel's "Unicode Text", PowerShell's -Encoding
# Unicode) reaches the certificate and the records as UTF-8.
for n in utf16le_bom utf16be_bom; do
	check_eq "$n: jurgen's OU is in the certificate intact" \
	    "$(p12_ou "$T/out-$n/jurgen.p12" "$(p12_password "$T/out-$n" jurgen)")" \
	    "$(printf 'Z\xc3\xbcrich')"
	check_eq "$n: the name is stored as UTF-8" \
	    "$(sqlite3 "$T/h-$n/userca.db" "select hex(name) from users where username = 'zoe'")" \
	    "$(printf 'Zo\xc3\xab Lef\xc3\xa8vre' | xxd -p | tr a-f A-F)"
done

# A BOM and a quoted, upper-case header: the first column is still username.
check_eq "bom_quoted_header: users zed and yan (the BOM is not part of a name)" \
    "$(sqlite3 "$T/h-bom_quoted_header/userca.db" "select group_concat(username, ',') from (select username from users order by username)")" 'yan,zed'
for n in lf crlf bom_lf bom_crlf no_final_newline; do
	check_eq "$n: the same three users, names without CR or BOM" \
	    "$(sqlite3 "$T/h-$n/userca.db" "select group_concat(hex(username || name), ',') from (select * from users order by username)")" \
	    "$(printf 'aliceAlice' | xxd -p | tr a-f A-F),$(printf 'carolCarol, the "second"' | xxd -p -c 200 | tr a-f A-F),$(printf 'erinErin' | xxd -p | tr a-f A-F)"
done

# p12_format per row: legacy for pl1 only (the default is modern).
for u in pm1 pl1 pd1; do
	pw=$(p12_password "$T/out-p12_format" "$u")
	printf '%s\n' "$pw" >"$T/$u.pw"
	run openssl pkcs12 -info -noout -in "$T/out-p12_format/$u.p12" -passin "file:$T/$u.pw"
	cat "$OUT" "$ERR" >"$T/$u.info"
	if [[ $u == pl1 ]]; then
		check_grep "p12_format: $u (legacy row) is 3DES" 'Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC' "$T/$u.info"
		check_grep "p12_format: $u (legacy row) has a SHA-1 MAC" '^MAC: sha1' "$T/$u.info"
	else
		check_grep "p12_format: $u is AES-256-CBC" 'Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC' "$T/$u.info"
		check_grep "p12_format: $u has a SHA-256 MAC" '^MAC: sha256' "$T/$u.info"
	fi
done

# Duplicates: the first row of a user is the one issued.
check_eq "duplicates: u1 has the email of its first row" \
    "$(sqlite3 "$T/h-duplicates/userca.db" "select email from users where username = 'u1'")" u1@example.com
check_eq "duplicates: u4 issued from line 9 (line 8 was invalid)" \
    "$(sqlite3 "$T/h-duplicates/userca.db" "select email from users where username = 'u4'")" u4@example.com

# ---- 100,000 rows, --dry-run ---------------------------------------------------------
"$PY" "$DATA/gen_csv.py" rows_100k . || fail "gen_csv.py rows_100k"
h=$T/h-100k
cp -a "$H0" "$h"
store_state "$h" >"$T/state.before"
t0=$(date +%s.%N)
expect_rc 0 "100,000 rows: --dry-run" uc batch rows_100k.csv --home "$h" --dry-run
t1=$(date +%s.%N)
check_stdout "100,000 rows: all would be issued" '^rows_100k\.csv: 100000 rows: 100000 would be issued, 0 skipped \(already issued\), 0 with errors$'
check_cond "100,000 rows: no report on stderr" "[[ ! -s '$ERR' ]]"
store_state "$h" >"$T/state.after"
check_same "100,000 rows: --dry-run adds nothing to userca.db" "$T/state.before" "$T/state.after"
echo "INFO: --dry-run of 100,000 rows ($(stat -c %s rows_100k.csv) bytes) took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"

summary
