#!/usr/bin/env bash
# SCEP and EST enrollment rates (scripts/bench scep).  Builds like scripts/bench
# http, works in a scratch folder under /tmp (removed at the end), binds
# 127.0.0.1 only (micromdm scepserver, which binds every address, runs in a
# network namespace of its own with only loopback: needs root and unshare),
# stops what it started by PID, and ends with a table.
#
# Usage: scripts/bench scep [options]
#   1. SCEP PKCSReq enrollments per second, the same run: N pre-made
#      requests (RSA-2048 keys, AES-256, SHA-256; tests/integration/
#      scep_msg.py), POSTed by curl --parallel, against
#        - userca-enrolld: one token each, the RA RSA-2048, a modern (EC
#          P-256 issuing CA) and a compatible (RSA-3072 issuing CA) home;
#          every answer checked (pkiStatus SUCCESS) and the rows counted;
#        - micromdm scepserver (Debian scep): its CA made with
#          -keySize 2048 (it is its own RA), one static challenge.
#      Beside each: the server's CPU per enrollment (userca-enrolld: its
#      monitor and its network child together).  Target: >= 2x.
#   2. EST simpleenroll per second, EC P-256 CSRs, HTTP Basic user:token,
#      HTTPS keep-alive (wrk, tests/bench/enroll_csr.lua est) at --conns
#      connections, a modern (EC) CA home.  Target: >= 1,000/s.
#   Options (environment variable in brackets):
#     --n N         SCEP requests per server     [BENCH_SCEP_N=400]
#     --par P       curl --parallel-max          [BENCH_SCEP_PAR=8]
#     --est-n N     EST enrollments              [BENCH_EST_N=3000]
#     --conns C     EST connections              [BENCH_EST_CONNS=32]
#     --threads T   wrk threads                  [BENCH_THREADS=2]
#     --rounds R    SCEP rounds, best kept       [BENCH_ROUNDS=2]
#     --profiles L  userca homes for SCEP        [BENCH_SCEP_PROFILES=modern,compatible]
#     --build-dir D CMake build folder           [USERCA_BUILD_DIR=build]
#     --quick       N=150, EST 1000, 1 round
#     --keep        keep the scratch folder
# Exit status 0 when every measurement ran (a missed target is reported in
# the table, not in the exit status); 1 when something failed; 2 for usage.
set -euo pipefail

usage() { sed -n '8,34p' "$0" | sed 's/^# \{0,1\}//'; }

n=${BENCH_SCEP_N:-400}
par=${BENCH_SCEP_PAR:-8}
est_n=${BENCH_EST_N:-3000}
est_c=${BENCH_EST_CONNS:-32}
threads=${BENCH_THREADS:-2}
rounds=${BENCH_ROUNDS:-2}
profiles=${BENCH_SCEP_PROFILES:-modern,compatible}
build=${USERCA_BUILD_DIR:-build}
keep=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --n|--par|--est-n|--conns|--threads|--rounds|--build-dir|--profiles)
      [[ $# -ge 2 ]] || { echo "scripts/bench scep: $1 needs a value" >&2; exit 2; } ;;
  esac
  case $1 in
    --n) n=$2; shift ;;
    --par) par=$2; shift ;;
    --est-n) est_n=$2; shift ;;
    --conns) est_c=$2; shift ;;
    --threads) threads=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --profiles) profiles=$2; shift ;;
    --build-dir) build=$2; shift ;;
    --quick) n=150; est_n=1000; rounds=1 ;;
    --keep) keep=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "scripts/bench scep: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
for v in n par est_n est_c threads rounds; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] ||
    { echo "scripts/bench scep: $v must be a positive integer (got '${!v}')" >&2; exit 2; }
done

die() { echo "scripts/bench scep: $*" >&2; exit 1; }
say() { printf '\033[1m-- %s\033[0m\n' "$*" >&2; }
calc() { awk "BEGIN { printf \"%s\", ($1) }" </dev/null; }

cd "$(dirname "$0")/../.."
root=$PWD
case $build in /*) ;; *) build=$root/$build ;; esac
msg=$root/tests/integration/scep_msg.py
lua=$root/tests/bench/enroll_csr.lua
csr_jobs=$root/tests/bench/csr_jobs.py
PY=/usr/bin/python3
for t in wrk curl sqlite3 openssl unshare nsenter ip scepserver; do
  command -v "$t" >/dev/null || die "$t missing (run scripts/deps as root)"
done
"$PY" -c 'import asn1crypto, cryptography' 2>/dev/null ||
  die "$PY cannot import asn1crypto and cryptography"
if [[ -f $build/CMakeCache.txt ]] &&
   grep -Eq '^USERCA_(SANITIZE|FUZZ):BOOL=(ON|1|TRUE)' "$build/CMakeCache.txt"; then
  die "$build is a sanitizer build; use --build-dir with a plain build"
fi
say "building in $build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target userca userca-enrolld >/dev/null
U=$build/userca
ED=$build/enroll/userca-enrolld
[[ -x $U && -x $ED ]] || die "build did not produce $U and $ED"

work=$(mktemp -d /tmp/userca-bench-scep.XXXXXX)
declare -A PIDS=()
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local k
  for k in "${!PIDS[@]}"; do kill -TERM "${PIDS[$k]}" 2>/dev/null || true; done
  for k in "${!PIDS[@]}"; do wait "${PIDS[$k]}" 2>/dev/null || true; done
  if [[ $keep -eq 1 ]]; then echo "scripts/bench scep: kept $work" >&2
  else rm -rf "$work"; fi
}
trap cleanup EXIT
cd "$work"
unset USERCA_HOME USERCA_NOW
( umask 077; head -c 18 /dev/urandom | base64 >root.pass )
ncpu=$(nproc)
clk_tck=$(getconf CLK_TCK)
load0=$(cut -d' ' -f1-3 /proc/loadavg)

port() { "$PY" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
p_http=$(port)
p_https=$(port)
p_est=$(port)
ticks() {  # PIDS... -> user+sys ticks of them all
  local p t=0 f
  for p in "$@"; do
    read -r -a f <<<"$(sed 's/^.*) //' "/proc/$p/stat")"
    t=$((t + f[11] + f[12]))
  done
  echo "$t"
}
busy() { awk '/^cpu / { print $2 + $3 + $4 + $9 }' /proc/stat; }

start_enrolld() {  # NAME CONF
  local i code
  "$ED" --config "$2" --quiet >"$1.out" 2>"$1.log" &
  PIDS[$1]=$!
  for ((i = 0; i < 100; i++)); do
    kill -0 "${PIDS[$1]}" 2>/dev/null || { cat "$1.log" >&2; die "userca-enrolld ($1) exited"; }
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
        "http://127.0.0.1:$p_http/healthz" 2>/dev/null) || true
    [[ $code == 200 || $code == 503 ]] && return 0
    sleep 0.1
  done
  die "userca-enrolld ($1) did not start"
}
stop() {  # NAME
  [[ -n ${PIDS[$1]:-} ]] || return 0
  kill -TERM "${PIDS[$1]}" 2>/dev/null || true
  wait "${PIDS[$1]}" 2>/dev/null || true
  unset "PIDS[$1]"
}
conf() {  # FILE HOME [EST]
  cat >"$1" <<EOF
[ca]
home = $work/$2
[http]
listen = 127.0.0.1:$p_http
[https]
listen = 127.0.0.1:$p_https
cert = $work/$2.tls/tls.crt
key = $work/$2.tls/tls.key
${3:+[est]
listen = 127.0.0.1:$p_est}
[limits]
rate_limit = 1000000
per_address = 1024
EOF
}
home() {  # DIR PROFILE USERS PREFIX
  "$U" init --home "$1" --org "Bench Corp" --base-url "https://127.0.0.1:$p_https" \
      --intermediate --profile "$2" --passphrase-file root.pass >/dev/null 2>"$1.init.log" ||
    { cat "$1.init.log" >&2; die "userca init --profile $2 failed"; }
  "$U" issue-server --home "$1" --dns localhost --ip 127.0.0.1 --out "$1.tls" \
      --passphrase-file root.pass >/dev/null || die "userca issue-server failed"
  { echo "username"; awk -v p="$4" -v n="$3" 'BEGIN { for (i = 0; i < n; i++) printf "%s%06d\n", p, i }'; } >"$1.csv"
  "$U" batch "$1.csv" --tokens --out "$1-links" --home "$1" >"$1.batch.log" 2>&1 ||
    { cat "$1.batch.log" >&2; die "userca batch --tokens failed"; }
}

# ---- 1. SCEP ---------------------------------------------------------------------
IFS=, read -r -a profs <<<"$profiles"
for pr in "${profs[@]}"; do
  say "SCEP: a $pr home, $((n * rounds)) tokens"
  home "s-$pr" "$pr" $((n * rounds)) scep-
  conf "s-$pr.ini" "s-$pr"
  start_enrolld "s-$pr" "s-$pr.ini"     # makes the RA
  stop "s-$pr"
  [[ -f s-$pr/issuing/scep-ra.crt ]] || die "no SCEP RA certificate ($pr)"
  awk -F'"' 'NR > 1 { k = split($14, a, "/"); print a[k] }' "s-$pr-links/manifest.csv" >"tokens-$pr"
  [[ $(wc -l <"tokens-$pr") -eq $((n * rounds)) ]] || die "expected $((n * rounds)) tokens ($pr)"
done

say "micromdm scepserver: its CA (RSA-2048)"
scepserver ca -init -depot depot -keySize 2048 -organization "Bench Corp" >ca-init.log 2>&1 ||
  { cat ca-init.log >&2; die "scepserver ca -init failed"; }
start_micromdm() {
  local i code pid=
  # shellcheck disable=SC2016  # $1 is sh -c's own argument
  (unshare --net --fork sh -c 'ip link set lo up && exec scepserver -depot "$1" -port 8080 \
      -challenge benchsecret -allowrenew 0' sh "$work/depot" >mdm.out 2>mdm.log </dev/null &
   echo $! >mdm.pid)
  PIDS[unshare]=$(cat mdm.pid)
  for ((i = 0; i < 100; i++)); do
    pid=$(ps -o pid= --ppid "${PIDS[unshare]}" | tr -d ' ' | head -1)
    [[ -n $pid ]] && break
    sleep 0.1
  done
  [[ -n $pid ]] || { cat mdm.log >&2; die "scepserver did not start"; }
  PIDS[mdm]=$pid
  NS=(nsenter "--net=/proc/$pid/ns/net")
  for ((i = 0; i < 100; i++)); do
    code=$("${NS[@]}" curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
        "http://127.0.0.1:8080/scep?operation=GetCACaps" 2>/dev/null) || true
    [[ $code == 200 ]] && return 0
    sleep 0.1
  done
  cat mdm.log >&2
  die "scepserver did not answer"
}
start_micromdm

t0=$EPOCHREALTIME
for ((r = 1; r <= rounds; r++)); do
  for pr in "${profs[@]}"; do
    sed -n "$(( (r - 1) * n + 1 )),$(( r * n ))p" "tokens-$pr" >"tok-$pr-$r.txt"
    "$PY" "$msg" many --ra "s-$pr/issuing/scep-ra.crt" --tokens "tok-$pr-$r.txt" \
        --dir "req-$pr-$r" || die "scep_msg.py ($pr) failed"
  done
  awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) print "benchsecret" }' >"tok-m-$r.txt"
  "$PY" "$msg" many --ra depot/ca.pem --tokens "tok-m-$r.txt" --dir "req-m-$r" ||
    die "scep_msg.py (micromdm) failed"
done
say "$(( (${#profs[@]} + 1) * n * rounds )) SCEP requests made: $(printf '%.1f' "$(calc "$EPOCHREALTIME - $t0")") s"

curl_cfg() {  # DIR URL OUTDIR -> DIR.curl: one transfer per request ("next":
  mkdir -p "$3"   # a body is not per URL otherwise)
  local f sep=
  for f in "$1"/*.der; do
    printf '%surl = "%s"\ndata-binary = "@%s"\noutput = "%s/%s"\nsilent\nshow-error\n' \
        "$sep" "$2" "$f" "$3" "${f##*/}"
    printf 'header = "Content-Type: application/x-pki-message"\n'
    sep=$'next\n'
  done >"$1.curl"
}
# run_scep NAME DIR URL PIDS... -> S_SECS S_CPU (server CPU s) S_OTHER
run_scep() {
  local name=$1 dir=$2 url=$3 c0 c1 b0 b1 t0 t1 pre=()
  shift 3
  [[ $name == micromdm ]] && pre=("${NS[@]}")
  curl_cfg "$dir" "$url?operation=PKIOperation" "$dir.out"
  c0=$(ticks "$@") b0=$(busy)
  t0=$EPOCHREALTIME
  "${pre[@]}" curl --parallel --parallel-immediate --parallel-max "$par" \
      -K "$dir.curl" 2>"$dir.err" ||
    { cat "$dir.err" >&2; die "curl ($name) failed"; }
  t1=$EPOCHREALTIME
  c1=$(ticks "$@") b1=$(busy)
  S_SECS=$(calc "$t1 - $t0")
  S_CPU=$(calc "($c1 - $c0) / $clk_tck")
  S_OTHER=$(calc "100 * (($b1 - $b0) - ($c1 - $c0)) / ($clk_tck * $ncpu * $S_SECS)" |
      awk '{ printf "%.0f", $1 < 0 ? 0 : $1 }')
}
# answers DIR.out -> how many CertReps say SUCCESS
answers() {
  "$PY" - "$1" <<'PYEOF'
import os, sys
from asn1crypto import cms
ok = 0
for f in os.listdir(sys.argv[1]):
    try:
        si = cms.ContentInfo.load(open(os.path.join(sys.argv[1], f), "rb").read())["content"]["signer_infos"][0]
        st = [a["values"][0].native for a in si["signed_attrs"] if a["type"].dotted == "2.16.840.1.113733.1.9.3"]
        ok += st == ["0"]
    except Exception:
        pass
print(ok)
PYEOF
}
declare -A SC=()
servers=(micromdm)
for pr in "${profs[@]}"; do servers+=("userca-$pr"); done
for ((r = 1; r <= rounds; r++)); do
  order=("${servers[@]}")
  if (( r % 2 == 0 )); then order=(); for ((i = ${#servers[@]} - 1; i >= 0; i--)); do order+=("${servers[$i]}"); done; fi
  for s in "${order[@]}"; do
    say "SCEP $s: $n PKCSReq, curl --parallel-max $par, round $r/$rounds"
    if [[ $s == micromdm ]]; then
      run_scep micromdm "req-m-$r" "http://127.0.0.1:8080/scep" "${PIDS[mdm]}"
      ok=$(answers "req-m-$r.out")
    else
      pr=${s#userca-}
      start_enrolld "s-$pr" "s-$pr.ini"
      # The monitor and its network child: both do the work.
      child=$(ps -o pid= --ppid "${PIDS[s-$pr]}" | tr -d ' ' | head -1)
      [[ -n $child ]] || die "no network child of userca-enrolld ($pr)"
      run_scep "$s" "req-$pr-$r" "http://127.0.0.1:$p_http/scep" "${PIDS[s-$pr]}" "$child"
      stop "s-$pr"
      ok=$(answers "req-$pr-$r.out")
    fi
    rate=$(calc "$ok / $S_SECS")
    say "   $ok SUCCESS of $n, $(printf '%.2f' "$S_SECS") s: $(printf '%.0f' "$rate")/s, server CPU $(printf '%.2f' "$(calc "1000 * $S_CPU / $n")") ms/req, other $S_OTHER%"
    read -r best _ <<<"${SC[$s]:-0}"
    if (( $(calc "$rate > $best") )); then SC[$s]="$rate $ok $S_SECS $S_CPU $S_OTHER"; fi
  done
done
declare -A ROWS=()
for pr in "${profs[@]}"; do
  ROWS[$pr]=$(sqlite3 "s-$pr/userca.db" "select count(*) from certificates where method = 'scep'")
done
kill -TERM "${PIDS[mdm]}" 2>/dev/null || true
stop unshare
unset "PIDS[mdm]"

# What userca checks that scepserver does not: the key policy on every CSR
# (EVP_PKEY_public_check: small factors, not a prime).  Its CPU on an
# RSA-2048 key: libcrypto's own EVP_PKEY_public_check, 200 times (ctypes).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null |
  openssl pkey -pubout -out kc.pem
keycheck=$("$PY" - kc.pem <<'PYEOF'
import ctypes, resource, sys
lc = ctypes.CDLL("libcrypto.so.3")
vp = ctypes.c_void_p
lc.BIO_new_mem_buf.restype = vp
lc.BIO_new_mem_buf.argtypes = [ctypes.c_char_p, ctypes.c_int]
lc.PEM_read_bio_PUBKEY.restype = vp
lc.PEM_read_bio_PUBKEY.argtypes = [vp, vp, vp, vp]
lc.EVP_PKEY_CTX_new_from_pkey.restype = vp
lc.EVP_PKEY_CTX_new_from_pkey.argtypes = [vp, vp, vp]
lc.EVP_PKEY_public_check.argtypes = [vp]
pem = open(sys.argv[1], "rb").read()
key = lc.PEM_read_bio_PUBKEY(lc.BIO_new_mem_buf(pem, len(pem)), None, None, None)
ctx = lc.EVP_PKEY_CTX_new_from_pkey(None, key, None)
r0 = resource.getrusage(resource.RUSAGE_SELF)
for _ in range(200):
    if lc.EVP_PKEY_public_check(ctx) != 1:
        sys.exit(1)
r1 = resource.getrusage(resource.RUSAGE_SELF)
print("%.2f" % (((r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)) * 1000 / 200))
PYEOF
) || keycheck='?'

# ---- 2. EST ----------------------------------------------------------------------
say "EST: a modern (EC) home, $est_n tokens and P-256 CSRs"
home ec modern "$est_n" est-
"$PY" "$csr_jobs" ec-links/manifest.csv est-jobs.txt est- --est >/dev/null || die "csr_jobs.py failed"
conf ec.ini ec est
start_enrolld ec ec.ini
rm -f enr.*
ec_child=$(ps -o pid= --ppid "${PIDS[ec]}" | tr -d ' ' | head -1)
[[ -n $ec_child ]] || die "no network child of userca-enrolld (EST)"
c0=$(ticks "${PIDS[ec]}" "$ec_child")
t0=$EPOCHREALTIME
wrk -t"$threads" -c"$est_c" -d60s --timeout 10s -s "$lua" "https://127.0.0.1:$p_est" \
    -- "$work/est-jobs.txt" "$threads" "$work/enr" est >wrk-est.txt 2>&1 &
PIDS[wrk]=$!
for ((i = 0; i < 1300; i++)); do
  kill -0 "${PIDS[wrk]}" 2>/dev/null || break
  done_files=(enr.done.*)
  [[ -e ${done_files[0]} ]] || done_files=()
  if (( ${#done_files[@]} >= threads )); then kill -INT "${PIDS[wrk]}" 2>/dev/null || true; break; fi
  sleep 0.05
done
wait "${PIDS[wrk]}" || die "wrk (EST) failed: $(tail -5 wrk-est.txt)"
unset "PIDS[wrk]"
c1=$(ticks "${PIDS[ec]}" "$ec_child")
line=$(grep '^enroll ' wrk-est.txt) || die "wrk (EST): no result: $(tail -5 wrk-est.txt)"
[[ $line =~ sent=([0-9]+)\ ok=([0-9]+)\ non200=([0-9]+)\ secs=([0-9.]+)\ codes=(.*)$ ]] ||
  die "wrk (EST): unexpected result: $line"
e_ok=${BASH_REMATCH[2]} e_bad=${BASH_REMATCH[3]} e_secs=${BASH_REMATCH[4]} e_codes=${BASH_REMATCH[5]}
e_rows=$(sqlite3 ec/userca.db "select count(*) from certificates where method = 'est'")
stop ec

# ---- the table ---------------------------------------------------------------------
verdict() { if (( $(calc "$1 $2 $3") )); then echo ok; else echo MISSED; fi; }
read -r mr mok ms mcpu mo <<<"${SC[micromdm]}"
echo
echo "== scripts/bench scep: $ncpu cores, $(openssl version | cut -d' ' -f1-2), scepserver $(scepserver -version 2>&1 | head -1) =="
echo "   load average at start $load0, at end $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "1. SCEP PKCSReq, $n pre-made RSA-2048 requests (AES-256, SHA-256) per run,"
echo "   curl --parallel-max $par, plain HTTP, best of $rounds round(s), same run"
printf '   %-38s %7s %6s %8s %10s %6s %8s\n' server SUCCESS secs "enroll/s" "CPU ms/req" other ratio
printf '   %-38s %7d %6.2f %8.0f %10.2f %5s%%\n' "micromdm scepserver (RSA-2048 CA)" \
    "$mok" "$ms" "$mr" "$(calc "1000 * $mcpu / $n")" "$mo"
for pr in "${profs[@]}"; do
  read -r ur uok us ucpu uo <<<"${SC[userca-$pr]}"
  case $pr in modern) lab="userca-enrolld, modern (P-256 CA)" ;;
    compatible) lab="userca-enrolld, compatible (RSA-3072 CA)" ;; *) lab="userca-enrolld, $pr" ;; esac
  ratio=$(calc "$mr > 0 ? $ur / $mr : 0")
  printf '   %-38s %7d %6.2f %8.0f %10.2f %5s%% %7.1fx  %s\n' "$lab" "$uok" "$us" "$ur" \
      "$(calc "1000 * $ucpu / $n")" "$uo" "$ratio" ">= 2x $(verdict "$ratio" '>=' 2)"
done
printf '   %-38s %28s %10s\n' "  of which userca's RSA key check" "" "$keycheck"
# The rest is userca's own SCEP work: set beside scepserver's CPU.
if [[ $keycheck != '?' ]]; then
  for pr in "${profs[@]}"; do
    read -r ur uok us ucpu uo <<<"${SC[userca-$pr]}"
    own=$(calc "1000 * $ucpu / $n - $keycheck")
    printf '   %-38s %28s %10.2f %13s\n' "  $pr without the key check" "" "$own" \
        "$(calc "$own > 0 ? 1000 * $mcpu / $n / $own : 0" | awk '{ printf "%.1fx CPU", $1 }')"
  done
fi
echo "   (userca: every SUCCESS recorded with method scep ($(for pr in "${profs[@]}"; do printf '%s %s ' "$pr" "${ROWS[$pr]}"; done)rows), one token each,"
echo "   every CSR key checked (EVP_PKEY_public_check, CPU measured alone with"
echo "   libcrypto; 'without': userca's CPU per enrollment minus it, and how much less"
echo "   that is than scepserver's); scepserver checks one static"
echo "   challenge, no key, and writes each certificate to its depot; its file"
echo "   depot loses requests under parallel load (serial file races): only its"
echo "   SUCCESS answers count.  'other': CPU other processes took meanwhile)"
echo
echo "2. EST simpleenroll, EC P-256 CSRs, HTTP Basic user:token, HTTPS keep-alive,"
echo "   wrk -t$threads -c$est_c"
e_rate=$(calc "$e_ok / $e_secs")
printf '   %-40s %6d ok %4d other %6.2f s %8.0f/s %8s  %s\n' "userca-enrolld [est] listener" \
    "$e_ok" "$e_bad" "$e_secs" "$e_rate" ">= 1000" "$(verdict "$e_rate" '>=' 1000)"
echo "   (server CPU $(printf '%.2f' "$(calc "1000 * ($c1 - $c0) / $clk_tck / ($e_ok + $e_bad)")") ms per enrollment;" \
     "$e_rows rows with method est${e_codes:+; non-200: $e_codes})"
exit 0
