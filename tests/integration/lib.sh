# shellcheck shell=bash
#
# Shared helpers for the userca integration tests (tests/integration/it_*.sh).
# Source it, don't run it.  ctest runs each test as `bash FILE` with
#   USERCA        path of the userca binary
#   USERCA_SRC    repository root
#   USERCA_BUILD  build directory
# Run by hand: `bash tests/integration/it_x.sh` from the repo (finds build/userca).
# KEEP=1 keeps the scratch directory for a look afterwards.
#
# Everything userca produces is checked with tools we did not write: openssl,
# GnuTLS certtool, Java keytool, /usr/bin/python3 + python3-cryptography,
# sqlite3.
#
# check*/expect_* record a PASS or FAIL line and go on, so that one run shows
# every broken behaviour; fail() stops the script at once (for steps the rest
# depends on).  summary prints "N passed, M failed" and sets the exit status.

set -euo pipefail
set -E

UC_SRC=$(cd "${USERCA_SRC:-$(dirname "${BASH_SOURCE[0]}")/../..}" && pwd)
USERCA=${USERCA:-${USERCA_BUILD:-$UC_SRC/build}/userca}
[[ $USERCA == */* && -e $USERCA ]] && USERCA=$(realpath -- "$USERCA")	# we cd below
PY=/usr/bin/python3
export USERCA_SRC=$UC_SRC LC_ALL=C TZ=UTC

# The tests say where the home is and how the passphrase arrives.
unset USERCA_HOME USERCA_PASSPHRASE USERCA_NOW

PASSED=0
FAILED=0
_SUMMARY_DONE=0
T=$(mktemp -d "${TMPDIR:-/tmp}/userca-it.XXXXXX")
OUT=$T/.stdout
ERR=$T/.stderr
RC=0

_uc_exit() {
	local rc=$?
	if [[ $_SUMMARY_DONE -eq 0 ]]; then
		echo "ABORTED: $PASSED passed, $((FAILED + 1)) failed (script stopped early, exit $rc)"
		[[ $rc -eq 0 ]] && rc=1
	fi
	if [[ -n ${KEEP:-} ]]; then
		echo "kept scratch directory $T"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap _uc_exit EXIT
trap 'echo "FAIL: command failed (exit $?) at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND" >&2' ERR

cd "$T"

# A missing outside tool is not a userca bug: skip (77, tests/CMakeLists.txt's
# SKIP_RETURN_CODE).  A missing userca binary is a failure.
skip() { echo "SKIP: $*"; _SUMMARY_DONE=1; exit 77; }
need_tool() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || skip "$t is not installed (scripts/deps installs it)"
	done
}
[[ -x $USERCA ]] || { echo "FAIL: userca binary not found at $USERCA" >&2; exit 1; }
need_tool openssl sqlite3 xxd setsid "$PY"
"$PY" -c 'import cryptography' 2>/dev/null || skip "python3-cryptography is not installed"

# free_port: a TCP port on 127.0.0.1 that nothing listens on now and that this
# test has not handed out before.  Chosen at random below the kernel's
# ephemeral range (32768+), so the outgoing connections of tests running
# beside this one (curl, wrk, the slowloris clients) never hold it, and two
# tests rarely pick the same one.
free_port() {
	"$PY" "$UC_SRC/tests/integration/free_port.py" "$T/.ports"
}

# ---- results ------------------------------------------------------------------

pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
# A failed check: recorded, the script goes on.
bad() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }
# A failed step the rest depends on: stop now.
fail() {
	echo "FAIL: $*" >&2
	FAILED=$((FAILED + 1))
	_SUMMARY_DONE=1
	echo "$PASSED passed, $FAILED failed (stopped)"
	exit 1
}
summary() {
	_SUMMARY_DONE=1
	echo "$PASSED passed, $FAILED failed"
	if [[ $FAILED -eq 0 ]]; then exit 0; fi
	exit 1
}
_show() {	# indent the last command's output under a FAIL line
	local f
	for f in "$OUT" "$ERR"; do
		[[ -s $f ]] && head -c 2000 "$f" | sed 's/^/    | /'
	done
	return 0
}

# ---- running commands -----------------------------------------------------------

uc() { "$USERCA" "$@"; }

# run CMD...: stdout to $OUT, stderr to $ERR, exit status to $RC; never fails.
# Under ASan/UBSan (scripts/test's second pass) a sanitizer report is a
# failure even when the exit status is the one expected (LeakSanitizer exits 1,
# like an ordinary error).
run() {
	RC=0
	"$@" >"$OUT" 2>"$ERR" || RC=$?
	if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' "$ERR"; then
		bad "sanitizer report from: $*"
		grep -E 'Sanitizer|runtime error|^ +#[0-9]+ ' "$ERR" | head -15 | sed 's/^/    | /'
	fi
	return 0
}

# check DESC CMD...: PASS when CMD exits 0.
check() {
	local d=$1; shift
	run "$@"
	if [[ $RC -eq 0 ]]; then pass "$d"; else bad "$d (exit $RC: $*)"; _show; fi
}

# check_fails DESC CMD...: PASS when CMD exits non-zero.
check_fails() {
	local d=$1; shift
	run "$@"
	if [[ $RC -ne 0 ]]; then pass "$d"; else bad "$d (unexpectedly succeeded: $*)"; _show; fi
}

# expect_rc "1" DESC CMD... (or "1|2" for any of those): checks the exit status.
expect_rc() {
	local want=$1 d=$2; shift 2
	run "$@"
	if [[ "|$want|" == *"|$RC|"* ]]; then
		pass "$d (exit $RC)"
	else
		bad "$d: exit $RC, want $want ($*)"; _show
	fi
}

# must DESC CMD...: CMD has to succeed or the script stops.
must() {
	local d=$1; shift
	run "$@"
	[[ $RC -eq 0 ]] && { pass "$d"; return 0; }
	echo "FAIL: $d (exit $RC: $*)"
	_show
	FAILED=$((FAILED + 1))
	_SUMMARY_DONE=1
	echo "$PASSED passed, $FAILED failed (stopped)"
	exit 1
}

check_eq() {	# DESC GOT WANT
	if [[ "$2" == "$3" ]]; then pass "$1"; else bad "$1: got '$2', want '$3'"; fi
}
check_ne() {	# DESC GOT NOT_WANTED
	if [[ "$2" != "$3" ]]; then pass "$1"; else bad "$1: got '$2'"; fi
}
# check_cond DESC 'EXPR': PASS when the shell expression (eval'd) is true.
check_cond() {
	local d=$1; shift
	if eval "$*"; then pass "$d"; else bad "$d ($*)"; fi
}

check_grep() {	# DESC ERE FILE: the file contains a match (case-insensitive)
	if grep -Eiq -- "$2" "$3"; then pass "$1"; else bad "$1: no /$2/ in ${3##*/}"; head -c 2000 "$3" | sed 's/^/    | /'; fi
}
check_nogrep() {	# DESC ERE FILE: the file contains no match (case-insensitive)
	if grep -Eiq -- "$2" "$3"; then bad "$1: /$2/ found in ${3##*/}"; grep -Ei -- "$2" "$3" | head -5 | sed 's/^/    | /'; else pass "$1"; fi
}
check_stderr() { check_grep "$1" "$2" "$ERR"; }	# on the last run's stderr
check_stdout() { check_grep "$1" "$2" "$OUT"; }

check_file() { if [[ -f $2 ]]; then pass "$1"; else bad "$1: $2 missing"; fi; }
check_nofile() { if [[ -e $2 ]]; then bad "$1: $2 exists"; else pass "$1"; fi; }
check_mode() {	# DESC FILE MODE
	local m
	m=$(stat -c %a "$2" 2>/dev/null || echo missing)
	check_eq "$1" "$m" "$3"
}
check_same() {	# DESC FILE1 FILE2 (byte-identical)
	if cmp -s "$2" "$3"; then pass "$1"; else bad "$1: ${2##*/} and ${3##*/} differ"; fi
}

# ---- fixtures ------------------------------------------------------------------

# The root passphrase: first line of the file, as `openssl -passin file:` reads it.
ROOT_PASS='correct horse battery staple'
PASSFILE=$T/root.pass
printf '%s\n' "$ROOT_PASS" >"$PASSFILE"
chmod 600 "$PASSFILE"
BASE_URL=http://pki.example.test
ORG='Example Org'

# ca_init HOME [extra init args]: a modern root + intermediate; stops on failure.
ca_init() {
	local h=$1; shift
	must "init $h ($*)" uc init --home "$h" --org "$ORG" --base-url "$BASE_URL" \
	    --passphrase-file "$PASSFILE" "$@"
}

# new_csr NAME [openssl req args]: NAME.key + NAME.csr (EC P-256).
new_csr() {
	local n=$1; shift
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$n.key" -out "$n.csr" "$@" 2>/dev/null
}

# serial_of FILE: stdout "serial: HEX" of the last issue, normalised.
serial_from_out() { sed -n 's/^serial:[[:space:]]*//p' "$OUT" | head -1 | norm_serial; }
# norm_serial: upper case, no colons, no 0x, no leading zeros.
norm_serial() { tr -d ':\r\n' | tr a-f A-F | sed -e 's/^0X//' -e 's/^0*//'; }
# cert_serial CERT.pem
cert_serial() { openssl x509 -in "$1" -noout -serial | sed 's/^serial=//' | norm_serial; }
cert_fp() {	# CERT.pem sha1|sha256 -> lower-case hex, no colons
	openssl x509 -in "$1" -noout -fingerprint "-$2" | sed 's/^.*=//' | tr -d ':' | tr A-F a-f
}
pubkey_of_cert() { openssl x509 -in "$1" -noout -pubkey; }
pubkey_of_key() { openssl pkey -in "$1" -pubout "${@:2}"; }

# split_pem IN PREFIX: PREFIX1.pem, PREFIX2.pem ... one certificate each;
# prints how many.
split_pem() {
	awk -v p="$2" '
		/-----BEGIN CERTIFICATE-----/ { n++; f = p n ".pem" }
		f { print > f }
		/-----END CERTIFICATE-----/ { close(f); f = "" }
		END { print n + 0 }' "$1"
}

# p12_cert P12 PASSFILE OUT: the end-entity certificate of a PKCS#12.
p12_cert() {
	openssl pkcs12 -in "$1" -passin "file:$2" -nokeys -clcerts 2>/dev/null |
	    openssl x509 -out "$3"
}

# ---- the store -----------------------------------------------------------------

# db_state HOME: what a failed command must not change.
db_state() {
	sqlite3 "$1/userca.db" \
	    'select count(*), group_concat(serial) from (select serial from certificates order by serial);
	     select count(*), group_concat(serial) from (select serial from certificates where status = '"'revoked'"' order by serial);
	     select count(*) from crls;
	     select count(*) from users;'
}
# pub_state HOME: sha256 of every published file.
pub_state() { (cd "$1/public" && find . -type f ! -name '.*' | sort | xargs -r sha256sum); }
# home_state HOME: both, plus the CA files.
home_state() {
	db_state "$1"
	pub_state "$1"
	(cd "$1" && find root issuing -type f 2>/dev/null | sort | xargs -r sha256sum)
	[[ -f $1/userca.conf ]] && sha256sum "$1/userca.conf"
	return 0
}

# db_checks HOME: the store is sound (integrity, WAL, DER matches its hash and
# its serial).
db_checks() {
	local h=$1 db=$1/userca.db n=0 ok=1 sha hex serial got s
	check_eq "db integrity_check ($h)" "$(sqlite3 "$db" 'PRAGMA integrity_check')" ok
	check_eq "db journal_mode is wal ($h)" "$(sqlite3 "$db" 'PRAGMA journal_mode')" wal
	while IFS='|' read -r serial sha hex; do
		n=$((n + 1))
		got=$(printf '%s' "$hex" | xxd -r -p | sha256sum | cut -d' ' -f1)
		if [[ ${sha,,} != "$got" ]]; then
			bad "db row $serial: sha256 column $sha != sha256(der) $got"; ok=0
		fi
		s=$(printf '%s' "$hex" | xxd -r -p | openssl x509 -inform DER -noout -serial 2>/dev/null |
		    sed 's/^serial=//' | norm_serial)
		if [[ $s != "$(printf '%s' "$serial" | norm_serial)" ]]; then
			bad "db row $serial: DER does not parse or has serial '$s'"; ok=0
		fi
	done < <(sqlite3 -separator '|' "$db" 'select serial, sha256, hex(der) from certificates')
	[[ $ok -eq 1 ]] && pass "db: $n certificate rows, DER matches sha256 and serial columns"
	return 0
}

# py SCRIPT [ARGS]: run python3 (Debian's, with python3-cryptography).
py() { "$PY" -c "$@"; }

# node_checks SECS SCRIPT ARGS...: run a node script that prints PASS:/FAIL:
# lines (a browser run); each counts as ours, other lines are shown; a run
# that did not finish (or took longer than SECS) stops the test.
node_checks() {
	local secs=$1 rc=0 line
	shift
	timeout "$secs" node "$@" >"$T/node.out" 2>&1 || rc=$?
	while IFS= read -r line; do
		case $line in
		PASS:*) pass "${line#PASS: }" ;;
		FAIL:*) bad "${line#FAIL: }" ;;
		*) echo "  $line" ;;
		esac
	done <"$T/node.out"
	[[ $rc -eq 0 ]] || fail "node ${1##*/} did not finish (exit $rc)"
}

# check_user_cert DESC CERT.pem ISSUER.pem USER EMAIL UPN [NOT_IN_CERT...]:
# the user profile, read by python3-cryptography.  EMAIL/UPN may be "" (then
# absent).  NOT_IN_CERT: strings that must appear nowhere in the subject or SAN
# (what a CSR asked for).
check_user_cert() {
	local d=$1; shift
	check "$d: user profile (python3-cryptography)" py '
import sys, datetime
from cryptography import x509
from cryptography.x509.oid import ExtensionOID as E, NameOID as N, ExtendedKeyUsageOID as U
c = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
ca = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
user, email, upn, base = sys.argv[3:7]
forbidden = sys.argv[7:]
errs = []
def need(ok, m):
    if not ok: errs.append(m)
def ext(oid):
    try: return c.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound: errs.append("missing extension %s" % oid._name); return None
need(c.version == x509.Version.v3, "version 3")
cns = [a.value for a in c.subject.get_attributes_for_oid(N.COMMON_NAME)]
need(cns == [user], "subject CN %r, want [%r]" % (cns, user))
need(c.issuer == ca.subject, "issuer is the issuing CA")
need(c.serial_number > 0, "serial positive")
need(c.serial_number.bit_length() <= 159, "serial <= 20 octets")
need(c.serial_number.bit_length() >= 64, "serial has >= 64 bits (random)")
need(c.not_valid_after <= ca.not_valid_after, "notAfter <= issuer notAfter")
days = (c.not_valid_after - c.not_valid_before).days
need(360 <= days <= 367, "validity ~1 year (%d days)" % days)
now = datetime.datetime.utcnow()
need(c.not_valid_before <= now + datetime.timedelta(minutes=5) and c.not_valid_after > now, "valid now")
bc = ext(E.BASIC_CONSTRAINTS)
if bc: need(bc.critical and not bc.value.ca, "basicConstraints CA:FALSE critical")
ku = ext(E.KEY_USAGE)
if ku: need(ku.critical and ku.value.digital_signature and not ku.value.key_cert_sign and not ku.value.crl_sign,
            "keyUsage digitalSignature critical, no cert/CRL signing")
eku = ext(E.EXTENDED_KEY_USAGE)
if eku: need(U.CLIENT_AUTH in eku.value, "EKU clientAuth")
ski = ext(E.SUBJECT_KEY_IDENTIFIER)
aki = ext(E.AUTHORITY_KEY_IDENTIFIER)
caski = ca.extensions.get_extension_for_oid(E.SUBJECT_KEY_IDENTIFIER).value.digest
if aki: need(aki.value.key_identifier == caski, "AKI keyid == issuing SKI")
dp = ext(E.CRL_DISTRIBUTION_POINTS)
if dp:
    uris = [n.value for p in dp.value for n in (p.full_name or [])]
    need(base + "/crl.der" in uris, "CRL DP %s/crl.der (got %r)" % (base, uris))
aia = ext(E.AUTHORITY_INFORMATION_ACCESS)
if aia:
    ci = [a.access_location.value for a in aia.value if a.access_method == x509.oid.AuthorityInformationAccessOID.CA_ISSUERS]
    need(base + "/ca.crt" in ci, "AIA caIssuers %s/ca.crt (got %r)" % (base, ci))
try:
    san = c.extensions.get_extension_for_oid(E.SUBJECT_ALTERNATIVE_NAME).value
except x509.ExtensionNotFound:
    san = []
emails = [g.value for g in san if isinstance(g, x509.RFC822Name)]
upns = []
for g in san:
    if isinstance(g, x509.OtherName) and g.type_id.dotted_string == "1.3.6.1.4.1.311.20.2.3":
        v = g.value
        # DER UTF8String (tag 0x0c), short or long form length
        if v[0] != 0x0c: errs.append("UPN otherName value is not a UTF8String (tag %#x)" % v[0]); continue
        n, off = v[1], 2
        if n & 0x80: k = n & 0x7f; n = int.from_bytes(v[2:2+k], "big"); off = 2 + k
        need(off + n == len(v), "UPN UTF8String length")
        upns.append(v[off:off+n].decode("utf-8"))
need(emails == ([email] if email else []), "SAN rfc822Name %r, want %r" % (emails, email))
need(upns == ([upn] if upn else []), "SAN UPN otherName %r, want %r" % (upns, upn))
text = c.subject.rfc4514_string() + " " + " ".join(str(g.value) for g in san)
for f in forbidden:
    need(f.lower() not in text.lower(), "%r (from the CSR) found in the certificate: %s" % (f, text))
if errs:
    print("\n".join(errs)); sys.exit(1)
' "$1" "$2" "$3" "$4" "$5" "$BASE_URL" "${@:6}"
}
