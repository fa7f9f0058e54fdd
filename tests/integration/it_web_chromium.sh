# shellcheck shell=bash
#
# The enrollment page (web/) in a real browser: Debian's headless Chromium,
# driven by playwright-core (tests/integration/web_e2e.mjs), on a phone-sized
# viewport (390x844), against userca-enrolld over HTTPS on loopback.
#
#   - the page shows who the certificate is for; Android -> legacy PKCS#12
#   - "Get my certificate" downloads alice.p12; the password shown on the page
#     opens it (openssl), CN=alice, PBE-SHA1-3DES
#   - the same link again says "already used"; bogus/expired links say so
#   - keyboard only: Tab to the button, Enter -> bob.p12 (modern: AES-256)
#   - own password + Advanced override; own CSR (bad one reported, good one signed)
#   - device emulation (user agent + client hints through CDP): iOS Chrome,
#     Firefox, Edge, the Gmail/Google app and Outlook in-app views, Android
#     WebView in-app views get "Open this link in Safari/Chrome" + Copy link
#     and no enrollment button; Safari, Android Chrome, Windows, macOS, Linux
#     get the form, the right device and format; the link they all opened is
#     still unused in the database (tokens.used_at NULL)
#   - ChromeOS and Android's desktop site (Linux user agent; with and without
#     client hints) get legacy; only a positive Linux desktop gets modern
#   - accessibility: the password spelled out for screen readers, labelled
#     groups, "Show steps for another device"; axe-core (npm, WCAG 2.0/2.1 A
#     and AA) on every page state, light and dark: no violations
#   - screenshots in $USERCA_BUILD (paths printed)
#
# ctest runs it as `bash FILE` with USERCA, USERCA_SRC, USERCA_BUILD (and
# USERCA_ENROLLD).  Needs: chromium (Debian), node + playwright-core
# (npm ci --prefix tests/integration).  A missing one is a FAILURE, not a
# skip: scripts/deps installs them.  KEEP=1 keeps the scratch directory.

# pass/bad always succeed, so `check && pass || bad` is an if-then-else here.
# shellcheck disable=SC2015

set -euo pipefail

SRC=$(cd "${USERCA_SRC:-$(dirname "${BASH_SOURCE[0]}")/../..}" && pwd)
BUILD=${USERCA_BUILD:-$SRC/build}
BUILD=$(cd "$BUILD" && pwd)
USERCA=${USERCA:-$BUILD/userca}
ENROLLD=${USERCA_ENROLLD:-$BUILD/enroll/userca-enrolld}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export LC_ALL=C TZ=UTC
unset USERCA_HOME USERCA_PASSPHRASE USERCA_NOW

PASSED=0
FAILED=0
DPID=
T=$(mktemp -d "${TMPDIR:-/tmp}/userca-web.XXXXXX")

pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
bad() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }
# A step the rest depends on failed: stop (the trap reports and cleans up).
die() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; exit 1; }

cleanup() {
	local rc=$?
	if [[ -n $DPID ]] && kill -0 "$DPID" 2>/dev/null; then
		kill -TERM "$DPID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$DPID" 2>/dev/null || true
		wait "$DPID" 2>/dev/null || true
	fi
	# Under scripts/test's AddressSanitizer/UBSan build the daemon reports here.
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/enrolld.log" 2>/dev/null; then
		echo "FAIL: userca-enrolld: sanitizer report in its log"
		FAILED=$((FAILED + 1))
		rc=1
	fi
	if [[ $rc -ne 0 && -s $T/enrolld.log ]]; then
		echo "---- userca-enrolld log (last 30 lines) ----"
		tail -n 30 "$T/enrolld.log"
	fi
	[[ $rc -ne 0 && $FAILED -eq 0 ]] && FAILED=1
	echo "$PASSED passed, $FAILED failed"
	if [[ -n ${KEEP:-} ]]; then echo "kept scratch directory $T"; else rm -rf "$T"; fi
	[[ $rc -eq 0 && $FAILED -gt 0 ]] && rc=1
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- what the test needs (missing = FAIL: scripts/deps installs it) -----------
[[ -x $USERCA ]] || die "userca binary not found at $USERCA (build first)"
[[ -x $ENROLLD ]] || die "userca-enrolld not found at $ENROLLD (build first)"
[[ -x $CHROMIUM ]] || die "chromium is not installed at $CHROMIUM (apt-get install chromium; scripts/deps)"
command -v node >/dev/null || die "node is not installed (apt-get install nodejs; scripts/deps)"
command -v openssl >/dev/null || die "openssl is not installed"
command -v curl >/dev/null || die "curl is not installed"
command -v sqlite3 >/dev/null || die "sqlite3 is not installed (scripts/deps)"
# playwright-core: tests/integration/node_modules (npm ci --prefix tests/integration),
# or $USERCA_BUILD/node_modules, or $UC_NODE_MODULES/.. .
MODDIRS=()
for d in ${UC_NODE_MODULES:+"$(dirname "$UC_NODE_MODULES")"} "$SRC/tests/integration" "$BUILD"; do
	[[ -f $d/node_modules/playwright-core/package.json ]] && MODDIRS+=("$d")
done
if [[ ${#MODDIRS[@]} -eq 0 ]] &&
    ! (cd "$SRC/tests/integration" && node -e 'require.resolve("playwright-core")') 2>/dev/null; then
	die "npm package playwright-core is not installed: npm ci --prefix $SRC/tests/integration (scripts/deps)"
fi

# ---- free loopback ports -----------------------------------------------------
# Below the ephemeral range (32768+), so other tests' outgoing connections
# never hold it; not bound by anyone now; not handed out twice here.
free_port() {
	/usr/bin/python3 "$SRC/tests/integration/free_port.py" "$T/.ports"
}
P1=$(free_port) || die "no free port"
P2=$(free_port) || die "no free port"
BASE=https://127.0.0.1:$P2

# ---- scratch CA, TLS certificate, config --------------------------------------
H=$T/pki
(umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/pass")
"$USERCA" init --home "$H" --org Demo --base-url "$BASE" --intermediate \
    --profile modern --passphrase-file "$T/pass" >"$T/init.log" 2>&1 ||
	{ cat "$T/init.log"; die "userca init"; }
"$USERCA" issue-server --home "$H" --dns localhost --ip 127.0.0.1 --out "$T/tls" \
    --passphrase-file "$T/pass" >"$T/tls.log" 2>&1 || { cat "$T/tls.log"; die "userca issue-server"; }
cat >"$T/enrolld.conf" <<EOF
[ca]
home = $H
[http]
listen = 127.0.0.1:$P1
[https]
listen = 127.0.0.1:$P2
cert = $T/tls/tls.crt
key = $T/tls/tls.key
[enroll]
web_root = $SRC/web
EOF

token() {	# token USER EMAIL NAME [TTL] -> URL   ($NOW: make it as if at that time)
	local url
	# (in $(...): complain on stderr; the caller's set -e stops the script)
	url=$(USERCA_NOW=${NOW:-} "$USERCA" token --home "$H" --user "$1" --email "$2" --name "$3" \
	    ${4:+--ttl "$4"} 2>"$T/token.err" | head -n 1) || true
	if [[ $url != "$BASE/enroll/"* ]]; then
		echo "FAIL: userca token --user $1 printed '$url', not a $BASE/enroll/ URL: $(cat "$T/token.err")" >&2
		return 1
	fi
	echo "$url"
}
U_P12=$(token alice alice@example.com "Alice Adams")
U_KEY=$(token bob bob@example.com "Bob Brown")
U_OWN=$(token dave dave@example.com "Dave Davis")
U_CSR=$(token carol carol@example.com "Carol Clark")
# Looked at by every emulated device, never used: the wrong-browser views
# must not spend it.
U_IOS=$(token grace grace@example.com "Grace Green")
U_LOOK=$(token frank frank@example.com "Frank Fischer")
# Made two hours ago, valid for one: expired.
U_EXP=$(NOW=$(($(date +%s) - 7200)) token erin erin@example.com "Erin Evans" 1h)
BOGUS=$BASE/enroll/$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | cut -c1-22)

# A key and CSR of carol's own (the CN in it is ignored: identity comes from the token).
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=whatever" \
    -keyout "$T/carol.key" -out "$T/carol.csr" 2>/dev/null || die "openssl req"

# ---- the daemon ----------------------------------------------------------------
"$ENROLLD" --config "$T/enrolld.conf" >"$T/enrolld.log" 2>&1 &
DPID=$!
up=
for _ in $(seq 100); do
	if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$P1/healthz" 2>/dev/null; then up=1; break; fi
	kill -0 "$DPID" 2>/dev/null || break
	sleep 0.1
done
[[ -n $up ]] || die "userca-enrolld did not answer /healthz on 127.0.0.1:$P1"
pass "userca-enrolld is up (http $P1, https $P2)"
curl -fsS -k -o /dev/null "$BASE/static/enroll.js" || die "the daemon does not serve /static/enroll.js from $SRC/web"

# ---- the browser -----------------------------------------------------------------
# Screenshots go to the build dir (kept); downloads to the scratch dir.
SHOTS=$BUILD/web-screenshots
mkdir -p "$SHOTS" "$T/dl"
MODJSON=$(printf '%s\n' "${MODDIRS[@]+"${MODDIRS[@]}"}" | node -e \
    'process.stdout.write(JSON.stringify(require("fs").readFileSync(0,"utf8").split("\n").filter(Boolean)))')
cat >"$T/e2e.json" <<EOF
{
  "chromium": "$CHROMIUM",
  "out": "$T/dl",
  "modules": $MODJSON,
  "csr_pem": "$T/carol.csr",
  "urls": {
    "p12": "$U_P12", "keyboard": "$U_KEY", "own": "$U_OWN", "csr": "$U_CSR",
    "look": "$U_LOOK", "ios": "$U_IOS", "bogus": "$BOGUS", "malformed": "$BASE/enroll/nope", "expired": "$U_EXP"
  }
}
EOF
set +e
timeout 150 node "$SRC/tests/integration/web_e2e.mjs" "$T/e2e.json" >"$T/e2e.out" 2>&1
RC=$?
set -e
while IFS= read -r line; do
	case $line in
	PASS:*) PASSED=$((PASSED + 1)); echo "$line" ;;
	FAIL:*) FAILED=$((FAILED + 1)); echo "$line" ;;
	screenshot:*) f=${line#screenshot: }; cp "$f" "$SHOTS/"; echo "screenshot: $SHOTS/${f##*/}" ;;
	*) echo "  $line" ;;
	esac
done <"$T/e2e.out"
[[ $RC -eq 0 ]] || die "the browser run did not finish (exit $RC)"

res() { node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); process.stdout.write(String(r[process.argv[2]] ?? ""))' "$T/dl/result.json" "$1"; }

# ---- what the browser got, checked with openssl ----------------------------------------
# p12_check NAME FILE PASSWORD CN ALG-REGEX
p12_check() {
	local name=$1 f=$2 pw=$3 cn=$4 alg=$5
	[[ -s $f ]] || { bad "$name: no file downloaded"; return; }
	[[ -n $pw ]] || { bad "$name: no password"; return; }
	printf '%s' "$pw" >"$T/pw"
	if openssl pkcs12 -in "$f" -passin "file:$T/pw" -nokeys -clcerts -out "$T/leaf.pem" 2>"$T/ossl.err"; then
		pass "$name: the password shown opens the file (openssl pkcs12)"
	elif openssl pkcs12 -legacy -in "$f" -passin "file:$T/pw" -nokeys -clcerts -out "$T/leaf.pem" 2>"$T/ossl.err"; then
		pass "$name: the password shown opens the file (openssl pkcs12 -legacy)"
	else
		bad "$name: openssl cannot open it with the password shown: $(head -c 300 "$T/ossl.err")"
		return
	fi
	local subj
	subj=$(openssl x509 -in "$T/leaf.pem" -noout -subject -nameopt RFC2253 2>/dev/null || true)
	[[ $subj =~ (^|[=,])CN=$cn(,|$) ]] && pass "$name: certificate CN is $cn" || bad "$name: subject is '$subj', want CN=$cn"
	local info
	info=$(openssl pkcs12 -info -noout -in "$f" -passin "file:$T/pw" 2>&1 ||
	    openssl pkcs12 -legacy -info -noout -in "$f" -passin "file:$T/pw" 2>&1 || true)
	[[ $info =~ $alg ]] && pass "$name: encryption is $alg" ||
	    bad "$name: openssl pkcs12 -info does not show $alg: $(echo "$info" | grep -i -m3 'pbe\|pbes\|mac')"
}
p12_check "Android (legacy)" "$(res p12)" "$(res password)" alice 'pbeWithSHA1And3-KeyTripleDES-CBC'
p12_check "keyboard, Linux (modern)" "$(res keyboard_p12)" "$(res keyboard_password)" bob 'AES-256-CBC'
p12_check "iOS Safari (legacy)" "$(res ios_p12)" "$(res ios_password)" grace 'pbeWithSHA1And3-KeyTripleDES-CBC'
p12_check "own password, forced modern" "$(res own_p12)" "$(res own_password)" dave 'AES-256-CBC'

PEM=$(res pem)
if [[ -s $PEM ]]; then
	subj=$(openssl x509 -in "$PEM" -noout -subject -nameopt RFC2253 2>/dev/null || true)
	[[ $subj =~ (^|[=,])CN=carol(,|$) ]] &&
	    pass "own CSR: certificate CN is carol (from the token, not the CSR)" || bad "own CSR: CN is not carol"
	[[ $(openssl x509 -in "$PEM" -noout -pubkey | openssl sha256) == \
	    $(openssl pkey -in "$T/carol.key" -pubout | openssl sha256) ]] &&
	    pass "own CSR: the certificate holds the CSR's key" || bad "own CSR: the certificate's key is not the CSR's"
	n=$(grep -c 'BEGIN CERTIFICATE' "$PEM")
	[[ $n -ge 2 ]] && pass "own CSR: the download has the chain ($n certificates)" || bad "own CSR: only $n certificate(s)"
	openssl verify -CAfile "$H/root/root.crt" -untrusted "$PEM" "$PEM" >/dev/null 2>&1 &&
	    pass "own CSR: openssl verify accepts it against the root" || bad "own CSR: openssl verify failed"
	ser=$(openssl x509 -in "$PEM" -noout -serial | cut -d= -f2 | tr -d ':' | tr 'a-f' 'A-F' | sed 's/^0*//')
	shown=$(res csr_serial | tr -d ':' | tr 'a-f' 'A-F' | sed 's/^0*//')
	[[ -n $ser && $ser == "$shown" ]] && pass "own CSR: the serial shown is the certificate's" ||
	    bad "own CSR: serial shown '$shown', certificate has '$ser'"
else
	bad "own CSR: no PEM downloaded"
fi

# ---- looking spends nothing: the link every device opened is unused ---------------
# token_sql TOKEN: its row (only the SHA-256 is stored); as in lib_enrolld.sh.
token_sql() {
	printf "hex(hash) = '%s'" "$(printf '%s' "${1##*/}" | sha256sum | cut -d' ' -f1 | tr a-f A-F)"
}
used_at() { sqlite3 "$H/userca.db" "select ifnull(used_at, 'NULL') from tokens where $(token_sql "$1")"; }
u=$(used_at "$U_LOOK")
[[ $u == NULL ]] && pass "the link opened by every emulated device (wrong browsers included) is unused (tokens.used_at NULL)" ||
    bad "the looked-at link was spent: used_at '$u'"
u=$(used_at "$U_P12")
[[ -n $u && $u != NULL ]] && pass "(the same query sees alice's link as used: $u)" ||
    bad "the used_at query does not see alice's used link ('$u')"
