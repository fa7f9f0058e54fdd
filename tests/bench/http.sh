#!/usr/bin/env bash
# userca-enrolld under load (scripts/bench http).  Builds like scripts/bench
# batch, works in a scratch folder under /tmp (removed at the end), binds
# 127.0.0.1 only on free ports, stops what it started by PID, and ends
# with a table.  wrk is the load generator.
#
# Usage: scripts/bench http [options]
#   1. GET /crl.der: a CRL of N revoked certificates (~100 KB for 2,000),
#      userca-enrolld (plain HTTP, --quiet) against nginx serving the same
#      file (sendfile, worker_processes auto, access_log off), same wrk
#      runs at several connection counts, alternated, best of R rounds
#   2. CSR enrollments per second over HTTPS keep-alive: pre-made tokens
#      and EC P-256 CSRs, each token used once (tests/bench/enroll_csr.lua),
#      until the tokens run out; every 200 checked against the database
#      afterwards; beside it the daemon's CPU per enrollment and what
#      openssl speed says the signing work alone costs
#   3. PKCS#12 enrollment latency (p50, p99), sequential requests on one
#      keep-alive HTTPS connection, EC (modern home) and RSA-2048
#      (compatible home) user keys, and the daemon's CPU per request; beside
#      them the in-process mint's time and CPU (bench_mint, one thread)
#   4. OCSP answers per second at --ocsp-conns connections (p99 beside):
#      cacheable GETs (GET /ocsp/<base64 request without nonce>, always the
#      same request) and POSTs each with its own nonce (--ocsp-n requests
#      made in advance, about as many certificates, valid and revoked,
#      cycled: tests/bench/ocsp_reqs.py, tests/bench/ocsp_post.lua), each
#      against userca-enrolld, `openssl ocsp -index -multi M` (an index.txt
#      of the same certificates, the responder certificate and key the
#      daemon made; it binds every address, so it runs in a network
#      namespace of its own with only loopback: needs root and unshare) and
#      nginx serving a pre-signed answer as a static file (no nonce: a
#      ceiling, not a responder).  Then the same GET and POST runs against
#      a second home holding --ocsp-big certificates (made by `userca batch`
#      of as many EC users, a quarter of them revoked; its own daemon),
#      alternated with the first home's daemon, and their ratio (answers/s
#      and CPU per answer: target within 10%).  Beside them the ceiling of
#      nonce POSTs on these cores: the cached GET's CPU per answer (HTTP
#      alone), one ECDSA signature (openssl speed) and one round trip
#      between the daemon's processes (bench_door).
#   Options (environment variable in brackets):
#     --crl-n N        revoked certificates in the CRL  [BENCH_CRL_N=2000]
#     --conns LIST     wrk connections, CRL runs        [BENCH_CONNS=8,32,64]
#     --secs S         seconds per CRL wrk run          [BENCH_SECS=8]
#     --rounds R       CRL rounds, best kept            [BENCH_ROUNDS=2]
#     --enroll-n N     tokens for the main CSR run      [BENCH_ENROLL_N=5000]
#     --enroll-conns C connections of the main CSR run  [BENCH_ENROLL_CONNS=32]
#     --sweep-n N      tokens for each extra CSR run, at 8 and 64
#                      connections (0: none)            [BENCH_SWEEP_N=2000]
#     --p12-ec N       EC PKCS#12 requests              [BENCH_P12_EC=200]
#     --p12-rsa N      RSA PKCS#12 requests             [BENCH_P12_RSA=30]
#     --threads T      wrk threads                      [BENCH_THREADS=2]
#     --ocsp-n N       pre-made nonce requests          [BENCH_OCSP_N=1000]
#     --ocsp-conns C   connections of the OCSP runs     [BENCH_OCSP_CONNS=32]
#     --ocsp-multi M   openssl ocsp -multi              [BENCH_OCSP_MULTI=2]
#     --ocsp-big N     certificates in the big home, 0: no big
#                      home                  [BENCH_OCSP_BIG=100000; --quick 20000]
#     --build-dir D    CMake build folder               [USERCA_BUILD_DIR=build]
#     --quick          3 s x 1 round, 3000 + 2 x 1000 CSRs, 60 EC, 10 RSA,
#                      --ocsp-big 20000
#     --keep           keep the scratch folder
# Exit status 0 when every measurement ran (a missed target is reported in
# the table, not in the exit status); 1 when something failed; 2 for usage.
set -euo pipefail

usage() { sed -n '7,61p' "$0" | sed 's/^# \{0,1\}//'; }

crl_n=${BENCH_CRL_N:-2000}
conns=${BENCH_CONNS:-8,32,64}
secs=${BENCH_SECS:-8}
rounds=${BENCH_ROUNDS:-2}
enroll_n=${BENCH_ENROLL_N:-5000}
enroll_c=${BENCH_ENROLL_CONNS:-32}
sweep_n=${BENCH_SWEEP_N:-2000}
p12_ec=${BENCH_P12_EC:-200}
p12_rsa=${BENCH_P12_RSA:-30}
threads=${BENCH_THREADS:-2}
ocsp_n=${BENCH_OCSP_N:-1000}
ocsp_c=${BENCH_OCSP_CONNS:-32}
ocsp_multi=${BENCH_OCSP_MULTI:-2}
ocsp_big=${BENCH_OCSP_BIG:-}
quick=0
build=${USERCA_BUILD_DIR:-build}
keep=0

while [[ $# -gt 0 ]]; do
  case $1 in
    --crl-n|--conns|--secs|--rounds|--enroll-n|--enroll-conns|--sweep-n|\
    --p12-ec|--p12-rsa|--threads|--build-dir|--ocsp-n|--ocsp-conns|--ocsp-multi|\
    --ocsp-big)
      if [[ $# -lt 2 ]]; then
        echo "scripts/bench http: $1 needs a value" >&2; exit 2
      fi ;;
  esac
  case $1 in
    --crl-n) crl_n=$2; shift ;;
    --conns) conns=$2; shift ;;
    --secs) secs=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --enroll-n) enroll_n=$2; shift ;;
    --enroll-conns) enroll_c=$2; shift ;;
    --sweep-n) sweep_n=$2; shift ;;
    --p12-ec) p12_ec=$2; shift ;;
    --p12-rsa) p12_rsa=$2; shift ;;
    --threads) threads=$2; shift ;;
    --ocsp-n) ocsp_n=$2; shift ;;
    --ocsp-conns) ocsp_c=$2; shift ;;
    --ocsp-multi) ocsp_multi=$2; shift ;;
    --ocsp-big) ocsp_big=$2; shift ;;
    --build-dir) build=$2; shift ;;
    --quick) secs=3; rounds=1; enroll_n=3000; sweep_n=1000; p12_ec=60
             p12_rsa=10; quick=1 ;;
    --keep) keep=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "scripts/bench http: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
for v in crl_n secs rounds enroll_n enroll_c p12_ec p12_rsa threads ocsp_n ocsp_c ocsp_multi; do
  if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
    echo "scripts/bench http: $v must be a positive integer (got '${!v}')" >&2
    exit 2
  fi
done
if [[ -z $ocsp_big ]]; then
  if ((quick)); then ocsp_big=20000; else ocsp_big=100000; fi
fi
if ! [[ $ocsp_big =~ ^[0-9]+$ ]]; then
  echo "scripts/bench http: --ocsp-big must be a number (got '$ocsp_big')" >&2
  exit 2
fi
if ! [[ $sweep_n =~ ^[0-9]+$ ]]; then
  echo "scripts/bench http: sweep_n must be a number (got '$sweep_n')" >&2
  exit 2
fi
if ! [[ $conns =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]]; then
  echo "scripts/bench http: --conns takes a list like 8,32,64 (got '$conns')" >&2
  exit 2
fi
IFS=, read -r -a conn_list <<<"$conns"
for c in "${conn_list[@]}" "$enroll_c" "$ocsp_c"; do
  if (( c < threads )); then
    echo "scripts/bench http: $c connections are fewer than $threads wrk threads" >&2
    exit 2
  fi
done

die() { echo "scripts/bench http: $*" >&2; exit 1; }
say() { printf '\033[1m-- %s\033[0m\n' "$*" >&2; }
# Floating point: calc 'expr' (awk).
calc() { awk "BEGIN { printf \"%s\", ($1) }" </dev/null; }

cd "$(dirname "$0")/../.."
root=$PWD
case $build in /*) ;; *) build=$root/$build ;; esac
lua=$root/tests/bench/enroll_csr.lua
csr_jobs=$root/tests/bench/csr_jobs.py
ocsp_reqs=$root/tests/bench/ocsp_reqs.py
ocsp_lua=$root/tests/bench/ocsp_post.lua

# ---- tools and build ----------------------------------------------------------
scripts/deps
PY=/usr/bin/python3
for t in wrk curl sqlite3 openssl unshare nsenter ip; do
  command -v "$t" >/dev/null || die "$t missing (run scripts/deps as root)"
done
NGINX=/usr/sbin/nginx
[[ -x $NGINX ]] || die "$NGINX missing (Debian package nginx-light or nginx)"
"$PY" -c 'import cryptography' 2>/dev/null ||
  die "$PY cannot import cryptography (Debian package python3-cryptography)"
if [[ -f $build/CMakeCache.txt ]] &&
   grep -Eq '^USERCA_SANITIZE:BOOL=(ON|1|TRUE)' "$build/CMakeCache.txt"; then
  die "$build is a sanitizer build; use --build-dir with a plain build"
fi
say "building in $build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target userca userca-enrolld bench_mint bench_door >/dev/null
U=$build/userca
ED=$build/enroll/userca-enrolld
M=$build/tests/bench/bench_mint
DOOR=$build/tests/bench/bench_door
[[ -x $U && -x $ED && -x $M ]] || die "build did not produce $U, $ED and $M"

work=$(mktemp -d /tmp/userca-bench-http.XXXXXX)
declare -A PIDS=()
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local n p
  if [[ -n ${PIDS[ossl]:-} ]]; then  # openssl ocsp's children, by PID
    for p in $(ps -o pid= --ppid "${PIDS[ossl]}"); do kill -KILL "$p" 2>/dev/null || true; done
  fi
  for n in "${!PIDS[@]}"; do kill -TERM "${PIDS[$n]}" 2>/dev/null || true; done
  for n in "${!PIDS[@]}"; do wait "${PIDS[$n]}" 2>/dev/null || true; done
  if [[ $keep -eq 1 ]]; then echo "scripts/bench http: kept $work" >&2
  else rm -rf "$work"; fi
}
trap cleanup EXIT
cd "$work"
unset USERCA_HOME USERCA_NOW
( umask 077; head -c 18 /dev/urandom | base64 >root.pass )
org="Bench Corp"
ncpu=$(nproc)
clk_tck=$(getconf CLK_TCK)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
# How busy the machine is before anything starts (2 s sample).
b0=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
sleep 2
b1=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
busy0=$(echo "$b0 $b1" | awk '{ t = ($3 - $1) + ($4 - $2); v = t > 0 ? 100 * ($3 - $1) / t : 0
  printf "%.0f", v }')

# free_port VAR: a TCP port on 127.0.0.1 nobody listens on right now and
# not handed out before.
declare -A USED_PORT=()
p_ec_https='' p_ec_http='' p_rsa_https='' p_nginx='' p_big_https='' p_big_http=''
free_port() {
  local p i
  for ((i = 0; i < 50; i++)); do
    p=$("$PY" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    if [[ -z ${USED_PORT[$p]:-} ]]; then
      USED_PORT[$p]=1
      printf -v "$1" '%s' "$p"
      return
    fi
  done
  die "no free port"
}
free_port p_ec_https
free_port p_ec_http
free_port p_rsa_https
free_port p_nginx
free_port p_big_https
free_port p_big_http

# ---- CPU accounting --------------------------------------------------------------
# CPU ticks (user+sys, all threads) of processes; the machine's busy ticks
# outside interrupts (user+nice+system+steal: loopback TCP runs in softirq,
# which no process is charged for, so it is left out on both sides).
# ticks_of PIDS... -> TICKS.  No forks: the enrollment runs call it
# every 50 ms.
ticks_of() {
  local p line f
  TICKS=0
  for p in "$@"; do
    line=
    read -r line 2>/dev/null <"/proc/$p/stat" || true
    [[ -n $line ]] || continue
    read -r -a f <<<"${line##*) }"
    TICKS=$((TICKS + f[11] + f[12]))
  done
}
proc_ticks() { ticks_of "$@"; echo "$TICKS"; }
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $9 }' /proc/stat; }
idle_ticks() { awk '/^cpu / { print $5 + $6 }' /proc/stat; }
# other_load busy0 busy1 own_ticks wall_s -> % of the machine other processes took
other_load() {
  calc "100 * (($2 - $1) - $3) / ($clk_tck * $ncpu * $4)" |
    awk '{ v = $1 < 0 ? 0 : $1; printf "%.0f", v }'
}

# ---- daemons ---------------------------------------------------------------------
# start_daemon NAME CONF HEALTH_URL CACERT: userca-enrolld --quiet in the
# background, up when /healthz answers (200 or 503).
declare -A DPIDS=()
start_daemon() {
  local i code
  "$ED" --config "$2" --quiet >"$1.out" 2>"$1.log" &
  PIDS[$1]=$!
  for ((i = 0; i < 100; i++)); do
    if ! kill -0 "${PIDS[$1]}" 2>/dev/null; then
      unset "PIDS[$1]"
      cat "$1.log" >&2
      die "userca-enrolld ($1) exited at start"
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
        --cacert "$4" "$3" 2>/dev/null) || true
    [[ $code == 200 || $code == 503 ]] && break
    sleep 0.1
  done
  [[ $code == 200 || $code == 503 ]] || die "userca-enrolld ($1) did not answer $3 within 10 s"
  # The monitor and its network process: CPU figures count both.
  DPIDS[$1]="${PIDS[$1]} $(ps -o pid= --ppid "${PIDS[$1]}" | tr '\n' ' ')"
}
stop_pid() {  # NAME: SIGTERM, wait; STOP_RC its exit status
  local pid=${PIDS[$1]:-}
  STOP_RC=0
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || STOP_RC=$?
  unset "PIDS[$1]"
}
daemon_conf() {  # FILE HOME [HTTPS_PORT TLSDIR] [HTTP_PORT]
  {
    echo "[ca]"
    echo "home = $2"
    if [[ -n ${3:-} ]]; then
      echo "[https]"
      echo "listen = 127.0.0.1:$3"
      echo "cert = $4/tls.crt"
      echo "key = $4/tls.key"
    fi
    if [[ -n ${5:-} ]]; then
      echo "[http]"
      echo "listen = 127.0.0.1:$5"
    fi
    # Every request comes from 127.0.0.1: no failed-token limit, and room
    # for wrk's 64 connections above the per-address limit (32 by default,
    # against slowloris from one address).
    echo "[limits]"
    echo "rate_limit = 1000000"
    echo "per_address = 1024"
  } >"$1"
}

# ---- the CA homes -----------------------------------------------------------------
init_home() {  # dir profile https_port
  local t0=$EPOCHREALTIME
  "$U" init --home "$1" --org "$org" --base-url "https://127.0.0.1:$3" \
      --intermediate --profile "$2" --passphrase-file root.pass >/dev/null ||
    die "userca init --profile $2 failed"
  "$U" issue-server --home "$1" --dns localhost --ip 127.0.0.1 \
      --out "$1.tls" --passphrase-file root.pass >/dev/null ||
    die "userca issue-server ($2) failed"
  say "init --profile $2 + issue-server: $(printf '%.2f' "$(calc "$EPOCHREALTIME - $t0")") s"
}
say "creating the CA homes (the compatible profile makes an RSA-4096 root)"
init_home ec modern "$p_ec_https"
init_home rsa compatible "$p_rsa_https"

# Tokens: prefix count -> rows of a CSV (username prefix-NNNNNN).
csv_rows() {
  awk -v p="$1" -v n="$2" 'BEGIN { for (i = 0; i < n; i++)
    printf "%s%06d,%s%06d@example.com,Bench %s %d\n", p, i, p, i, p, i }'
}
{
  echo "username,email,name"
  csv_rows csr-main- "$enroll_n"
  if (( sweep_n > 0 )); then
    csv_rows csr-s8- "$sweep_n"
    csv_rows csr-s64- "$sweep_n"
  fi
  csv_rows p12-ec- "$p12_ec"
} >ec-tokens.csv
{ echo "username,email,name"; csv_rows p12-rsa- "$p12_rsa"; } >rsa-tokens.csv
t0=$EPOCHREALTIME
"$U" batch ec-tokens.csv --tokens --out ec-links --home ec >tokens.log 2>&1 ||
  { cat tokens.log >&2; die "userca batch --tokens (modern) failed"; }
"$U" batch rsa-tokens.csv --tokens --out rsa-links --home rsa >tokens.log 2>&1 ||
  { cat tokens.log >&2; die "userca batch --tokens (compatible) failed"; }
ntok=$(( $(wc -l <ec-tokens.csv) + $(wc -l <rsa-tokens.csv) - 2 ))
say "$ntok tokens: $(printf '%.2f' "$(calc "$EPOCHREALTIME - $t0")") s"

t0=$EPOCHREALTIME
n=$("$PY" "$csr_jobs" ec-links/manifest.csv jobs-main.txt csr-main-) ||
  die "csr_jobs.py failed"
[[ $n -eq $enroll_n ]] || die "csr_jobs.py made $n CSRs, expected $enroll_n"
if (( sweep_n > 0 )); then
  for r in s8 s64; do
    "$PY" "$csr_jobs" ec-links/manifest.csv "jobs-$r.txt" "csr-$r-" >/dev/null ||
      die "csr_jobs.py failed"
  done
fi
say "$((enroll_n + 2 * sweep_n)) EC P-256 CSRs: $(printf '%.2f' "$(calc "$EPOCHREALTIME - $t0")") s"

# PKCS#12 requests: one curl, one keep-alive connection, opened by a
# /healthz first (its line is dropped), then one POST per token.
p12_config() {  # manifest prefix port out
  awk -F'"' -v p="$2" -v port="$3" '
    BEGIN { printf "url = \"https://127.0.0.1:%s/healthz\"\noutput = \"/dev/null\"\n", port }
    NR > 1 && index($2, p) == 1 {
      n = split($14, a, "/")
      printf "url = \"https://127.0.0.1:%s/api/v1/enroll/%s/p12\"\noutput = \"/dev/null\"\n", port, a[n]
    }' "$1" >"$4"
}
p12_config ec-links/manifest.csv p12-ec- "$p_ec_https" p12-ec.curl
p12_config rsa-links/manifest.csv p12-rsa- "$p_rsa_https" p12-rsa.curl

# ---- 2. CSR enrollments ---------------------------------------------------------------
# run_enroll LABEL JOBS CONNS: wrk until the tokens run out (at most 60 s).
# Sets R_SENT R_OK R_NON200 R_CODES R_SECS R_DCPU (daemon CPU s) R_IDLE (%
# of the machine idle) R_OTHER; appends the 200s' serials to serials.txt.
run_enroll() {
  local w i line d0 d1 b0 b1 i0 i1 wt=0 t0 t1 wall
  local -a done_files
  rm -f enr.*
  # shellcheck disable=SC2086  # the monitor and its network process
  d0=$(proc_ticks ${DPIDS[ec]}) b0=$(busy_ticks) i0=$(idle_ticks)
  t0=$EPOCHREALTIME
  wrk -t"$threads" -c"$3" -d60s --timeout 10s -s "$lua" \
      "https://127.0.0.1:$p_ec_https" -- "$2" "$threads" "$work/enr" \
      >"wrk-$1.txt" 2>&1 &
  w=$!
  PIDS[wrk]=$w
  for ((i = 0; i < 1300; i++)); do  # 65 s at most; wrk ends at 60 s
    kill -0 "$w" 2>/dev/null || break
    ticks_of "$w"
    wt=$TICKS
    done_files=(enr.done.*)
    [[ -e ${done_files[0]} ]] || done_files=()
    if (( ${#done_files[@]} >= threads )); then
      kill -INT "$w" 2>/dev/null || true
      break
    fi
    sleep 0.05
  done
  wait "$w" || die "wrk ($1) failed: $(tail -5 "wrk-$1.txt")"
  unset "PIDS[wrk]"
  t1=$EPOCHREALTIME
  # shellcheck disable=SC2086
  d1=$(proc_ticks ${DPIDS[ec]}) b1=$(busy_ticks) i1=$(idle_ticks)
  line=$(grep '^enroll ' "wrk-$1.txt") || die "wrk ($1): no result: $(tail -5 "wrk-$1.txt")"
  [[ $line =~ sent=([0-9]+)\ ok=([0-9]+)\ non200=([0-9]+)\ secs=([0-9.]+)\ codes=(.*)$ ]] ||
    die "wrk ($1): unexpected result: $line"
  R_SENT=${BASH_REMATCH[1]} R_OK=${BASH_REMATCH[2]} R_NON200=${BASH_REMATCH[3]}
  R_SECS=${BASH_REMATCH[4]} R_CODES=${BASH_REMATCH[5]}
  wall=$(calc "$t1 - $t0")
  R_DCPU=$(calc "($d1 - $d0) / $clk_tck")
  R_IDLE=$(calc "100 * ($i1 - $i0) / ($clk_tck * $ncpu * $wall)" | awk '{ printf "%.0f", $1 }')
  R_OTHER=$(other_load "$b0" "$b1" "$((d1 - d0 + wt))" "$wall")
  cat enr.serials >>serials.txt
  (( R_OK > 0 )) || die "wrk ($1): no enrollment succeeded ($line)"
}

daemon_conf ec.ini "$work/ec" "$p_ec_https" "$work/ec.tls"
start_daemon ec ec.ini "https://127.0.0.1:$p_ec_https/healthz" ec/public/ca-bundle.pem
: >serials.txt
declare -A EN=()
enroll_runs=(main)
if (( sweep_n > 0 )); then enroll_runs+=(s8 s64); fi
for r in "${enroll_runs[@]}"; do
  case $r in main) c=$enroll_c n=$enroll_n ;; s8) c=8 n=$sweep_n ;; s64) c=64 n=$sweep_n ;; esac
  say "CSR enrollments: $n tokens, wrk -t$threads -c$c, HTTPS keep-alive"
  run_enroll "$r" "jobs-$r.txt" "$c"
  EN[$r]="$c $n $R_SENT $R_OK $R_NON200 $R_SECS $R_DCPU $R_IDLE $R_OTHER ${R_CODES:--}"
  say "   $R_OK x 200, $R_NON200 other, $(printf '%.2f' "$R_SECS") s: $(printf '%.0f' "$(calc "$R_OK / $R_SECS")")/s"
done

# ---- 3. PKCS#12 latency ---------------------------------------------------------------
# run_p12 NAME CONFIG CACERT N PIDS... -> P_N P_OK P_P50 P_P99 P_MAX P_MEAN
# (ms) P_CPU (the daemon's CPU ms per request, both processes: what the
# latency is made of when the machine is idle, and steady when it is not)
run_p12() {
  local d0 d1
  d0=$(proc_ticks "${@:5}")
  curl -sS --max-time 60 --cacert "$3" -H 'Content-Type: application/json' \
      -d '{}' -w '%{http_code} %{time_total}\n' -K "$2" >"$1.times" 2>"$1.err" ||
    { cat "$1.err" >&2; die "curl ($1) failed"; }
  d1=$(proc_ticks "${@:5}")
  P_CPU=$(calc "1000 * ($d1 - $d0) / $clk_tck / $4")
  tail -n +2 "$1.times" >"$1.t"
  P_N=$(wc -l <"$1.t")
  [[ $P_N -eq $4 ]] || die "$1: $P_N answers, expected $4"
  P_OK=$(awk '$1 == 200' "$1.t" | wc -l)
  read -r P_P50 P_P99 P_MAX P_MEAN < <(awk '{ print $2 * 1000 }' "$1.t" | sort -n |
    awk '{ v[NR] = $1; s += $1 }
      END { i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999)
            printf "%.1f %.1f %.1f %.1f\n", v[i50], v[i99], v[NR], s / NR }')
}
say "PKCS#12 enrollments, EC user keys: $p12_ec sequential requests"
# shellcheck disable=SC2086  # the monitor and its network process
run_p12 p12-ec p12-ec.curl ec/public/ca-bundle.pem "$p12_ec" ${DPIDS[ec]}
PE="$P_N $P_OK $P_P50 $P_P99 $P_MAX $P_MEAN $P_CPU"
stop_pid ec
[[ $STOP_RC -eq 0 ]] || die "userca-enrolld (modern) exited with status $STOP_RC"

# Durability: every 200 has its row; rows without a 200 were in flight
# when wrk stopped (only when a run hit its 60 s limit).
ok_total=0
for r in "${enroll_runs[@]}"; do
  read -r _ _ _ ok _ <<<"${EN[$r]}"
  ok_total=$((ok_total + ok))
done
rows=$(sqlite3 ec/userca.db "select count(*) from certificates where method = 'enroll-csr'")
missing=$(sqlite3 ec/userca.db <<EOF
create temp table s(serial text);
.import $work/serials.txt s
select count(*) from s where serial not in
  (select serial from certificates where method = 'enroll-csr');
EOF
)
p12_rows=$(sqlite3 ec/userca.db "select count(*) from certificates where method = 'enroll-p12'")
used=$(sqlite3 ec/userca.db "select count(*) from tokens where used_at is not null and
  cert_id in (select id from certificates where method = 'enroll-csr')")

daemon_conf rsa.ini "$work/rsa" "$p_rsa_https" "$work/rsa.tls"
start_daemon rsa rsa.ini "https://127.0.0.1:$p_rsa_https/healthz" rsa/public/ca-bundle.pem
say "PKCS#12 enrollments, RSA-2048 user keys: $p12_rsa sequential requests"
# shellcheck disable=SC2086
run_p12 p12-rsa p12-rsa.curl rsa/public/ca-bundle.pem "$p12_rsa" ${DPIDS[rsa]}
PR="$P_N $P_OK $P_P50 $P_P99 $P_MAX $P_MEAN $P_CPU"
stop_pid rsa
[[ $STOP_RC -eq 0 ]] || die "userca-enrolld (compatible) exited with status $STOP_RC"

# References: the in-process mint (the daemon's default PKCS#12 format,
# legacy) on one thread, and the signing work of a CSR enrollment.
# mint_ms HOME N -> MINT_MS (wall ms per user) MINT_CPU (CPU ms per user)
mint_ms() {
  local line u s
  line=$(/usr/bin/time -f 'cpu %U %S' "$M" --home "$1" -n "$2" -j 1 \
      --p12-format legacy 2>&1 | grep -E '^(mint|cpu) ' | tr '\n' ' ') ||
    die "bench_mint ($1) failed"
  [[ $line =~ secs=([0-9.]+) ]] || die "bench_mint: unexpected output: $line"
  MINT_MS=$(calc "1000 * ${BASH_REMATCH[1]} / $2")
  [[ $line =~ cpu\ ([0-9.]+)\ ([0-9.]+) ]] || die "bench_mint: no CPU time: $line"
  u=${BASH_REMATCH[1]} s=${BASH_REMATCH[2]}
  MINT_CPU=$(calc "1000 * ($u + $s) / $2")
}
# What the privilege separation adds to an enrollment: one REDEEM round
# trip between the network child and the monitor (bench_door: the real
# encoding, socketpair and reader thread; no signing).
say "IPC: REDEEM round trips over the monitor's socketpair (bench_door)"
IPC_US=$("$DOOR" -n 20000 | sed -n 's/.* us=\([0-9.]*\).*/\1/p')
door16=$("$DOOR" -n 20000 -t 16)
IPC16_US=$(sed -n 's/.* us=\([0-9.]*\).*/\1/p' <<<"$door16")
# CPU of a round trip when many are in flight, as under wrk's load.
IPC_CPU=$(sed -n 's/.* cpu_us=\([0-9.]*\).*/\1/p' <<<"$door16")
[[ -n $IPC_US && -n $IPC_CPU && -n $IPC16_US ]] || die "bench_door failed"
say "in-process mint (bench_mint, 1 thread, legacy PKCS#12)"
mint_ms ec "$p12_ec"
MINT_EC=$MINT_MS MINT_EC_CPU=$MINT_CPU
mint_ms rsa "$p12_rsa"
MINT_RSA=$MINT_MS MINT_RSA_CPU=$MINT_CPU
say "openssl speed ecdsap256 (1 core)"
read -r SIGN_S VERIFY_S < <(openssl speed -seconds 1 ecdsap256 2>/dev/null |
  awk '/nistp256/ && NF >= 6 { print $(NF-1), $NF }')
[[ -n ${VERIFY_S:-} ]] || die "openssl speed ecdsap256: no result"

# ---- 1. the CRL: enrolld against nginx ----------------------------------------------------
# Revoke crl_n of the enrolled certificates (one UPDATE; reason superseded,
# as 'batch --reissue' does) and sign the CRL.
have=$(sqlite3 ec/userca.db "select count(*) from certificates where kind = 'user' and status = 'valid'")
if (( have < crl_n )); then
  say "userca batch: $((crl_n - have)) more users to revoke"
  { echo "username,email,name"; csv_rows crl- "$((crl_n - have))"; } >crl-users.csv
  "$U" batch crl-users.csv --out crl-out --home ec >crl-batch.log 2>&1 ||
    { cat crl-batch.log >&2; die "userca batch (CRL users) failed"; }
fi
sqlite3 ec/userca.db "update certificates set status = 'revoked',
    revoked_at = strftime('%s', 'now'), reason = 4
  where id in (select id from certificates where kind = 'user' and
    status = 'valid' order by id limit $crl_n)"
"$U" crl --home ec >crl.log 2>&1 || { cat crl.log >&2; die "userca crl failed"; }
crl=$work/ec/public/crl.der
crl_bytes=$(stat -c %s "$crl")
crl_entries=$(openssl crl -inform DER -in "$crl" -noout -text | grep -c 'Serial Number:') ||
  die "openssl cannot read $crl"
[[ $crl_entries -eq $crl_n ]] || die "the CRL lists $crl_entries certificates, expected $crl_n"
crl_ino=$(stat -c '%i %Y' "$crl")

daemon_conf crl.ini "$work/ec" "" "" "$p_ec_http"
start_daemon crl crl.ini "http://127.0.0.1:$p_ec_http/healthz" /dev/null

mkdir -p ngx/tmp
{
  # Running as root, nginx would switch its workers to nobody, who cannot
  # read this folder.
  if [[ $(id -u) -eq 0 ]]; then echo "user root;"; fi
  cat <<EOF
daemon off;
worker_processes auto;
pid $work/ngx/nginx.pid;
error_log $work/ngx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path $work/ngx/tmp/body;
  proxy_temp_path $work/ngx/tmp/proxy;
  fastcgi_temp_path $work/ngx/tmp/fastcgi;
  uwsgi_temp_path $work/ngx/tmp/uwsgi;
  scgi_temp_path $work/ngx/tmp/scgi;
  types { application/pkix-crl der; }
  server {
    listen 127.0.0.1:$p_nginx;
    root $work/ec/public;
    location = /crl.der { }
    # OCSP: one pre-signed answer (made below) for every GET, and for
    # POSTs too (the static module refuses POST: 405 -> internal GET).
    location ^~ /ocsp/ {
      root $work/ngx/www; types { } default_type application/ocsp-response;
      try_files /ocsp.der =404;
    }
    location = /ocsp {
      root $work/ngx/www; types { } default_type application/ocsp-response;
      error_page 405 =200 /ocsp.der;
      try_files /ocsp.der =404;
    }
    location = /ocsp.der {
      internal; root $work/ngx/www; types { } default_type application/ocsp-response;
    }
    location / { return 404; }
  }
}
EOF
} >ngx/nginx.conf
"$NGINX" -p "$work/ngx" -c "$work/ngx/nginx.conf" -e "$work/ngx/error.log" \
    >ngx/out 2>&1 &
PIDS[nginx]=$!
for ((i = 0; i < 100; i++)); do
  kill -0 "${PIDS[nginx]}" 2>/dev/null ||
    { unset "PIDS[nginx]"; cat ngx/out ngx/error.log >&2; die "nginx exited at start"; }
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
      "http://127.0.0.1:$p_nginx/crl.der" 2>/dev/null) || true
  [[ $code == 200 ]] && break
  sleep 0.1
done
[[ $code == 200 ]] || die "nginx did not answer within 10 s"
nginx_pids() {  # the master and its workers
  echo "${PIDS[nginx]}"
  ps -o pid= --ppid "${PIDS[nginx]}"
}

same_bodies() {
  local a b
  a=$(curl -sS -o from-enrolld.der -w '%{http_code}' "http://127.0.0.1:$p_ec_http/crl.der") ||
    die "curl userca-enrolld /crl.der failed"
  b=$(curl -sS -o from-nginx.der -w '%{http_code}' "http://127.0.0.1:$p_nginx/crl.der") ||
    die "curl nginx /crl.der failed"
  [[ $a == 200 && $b == 200 ]] || die "/crl.der: userca-enrolld HTTP $a, nginx HTTP $b"
  cmp -s from-enrolld.der "$crl" || die "userca-enrolld serves another /crl.der than $crl"
  cmp -s from-nginx.der "$crl" || die "nginx serves another /crl.der than $crl"
}
same_bodies

# run_crl NAME PORT CONNS PIDS... -> C_RPS C_P50 C_P99 (ms) C_US (server
# CPU us per request) C_OTHER C_ERR
run_crl() {
  local name=$1 port=$2 c=$3 s0 s1 b0 b1 t0 t1 wu ws wall out
  shift 3
  s0=$(proc_ticks "$@") b0=$(busy_ticks)
  t0=$EPOCHREALTIME
  /usr/bin/time -f '%U %S' -o wrk.time wrk -t"$threads" -c"$c" -d"${secs}s" \
      --latency "http://127.0.0.1:$port/crl.der" >"wrk-crl.txt" 2>&1 ||
    die "wrk ($name, $c connections) failed: $(tail -5 wrk-crl.txt)"
  t1=$EPOCHREALTIME
  s1=$(proc_ticks "$@") b1=$(busy_ticks)
  read -r wu ws <wrk.time
  out=wrk-crl.txt
  C_RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  [[ -n $C_RPS ]] || die "wrk ($name): no result: $(tail -5 "$out")"
  C_P50=$(awk '$1 == "50%" { print $2 }' "$out" | to_ms)
  C_P99=$(awk '$1 == "99%" { print $2 }' "$out" | to_ms)
  C_ERR=$(awk '/Socket errors|Non-2xx/ { $1 = $1; printf "%s; ", $0 }' "$out")
  wall=$(calc "$t1 - $t0")
  C_US=$(calc "1e6 * ($s1 - $s0) / $clk_tck / ($C_RPS * $wall)")
  C_OTHER=$(other_load "$b0" "$b1" "$(calc "($s1 - $s0) + ($wu + $ws) * $clk_tck")" "$wall")
}
to_ms() {  # wrk's 1.23ms / 456.00us / 1.20s -> ms
  awk '{ v = $1 + 0
    if ($1 ~ /us$/) v /= 1000; else if ($1 ~ /ms$/) ; else if ($1 ~ /s$/) v *= 1000
    printf "%.2f", v }'
}

say "CRL warm-up (1 s each)"
wrk -t"$threads" -c32 -d1s "http://127.0.0.1:$p_ec_http/crl.der" >/dev/null
wrk -t"$threads" -c32 -d1s "http://127.0.0.1:$p_nginx/crl.der" >/dev/null
declare -A CR=()
for ((r = 1; r <= rounds; r++)); do
  for c in "${conn_list[@]}"; do
    if (( r % 2 == 1 )); then order=(enrolld nginx); else order=(nginx enrolld); fi
    for s in "${order[@]}"; do
      say "GET /crl.der, $s, wrk -t$threads -c$c -d${secs}s, round $r/$rounds"
      if [[ $s == enrolld ]]; then
        # shellcheck disable=SC2086  # the monitor and its network process
        run_crl "$s" "$p_ec_http" "$c" ${DPIDS[crl]}
      else
        # shellcheck disable=SC2046  # the master and its workers
        run_crl "$s" "$p_nginx" "$c" $(nginx_pids)
      fi
      say "   $(printf '%.0f' "$C_RPS") req/s, p99 $C_P99 ms, server CPU $(printf '%.1f' "$C_US") us/req, other load $C_OTHER%${C_ERR:+, $C_ERR}"
      read -r best _ <<<"${CR[$s,$c]:-0}"
      if (( $(calc "$C_RPS > $best") )); then
        CR[$s,$c]="$C_RPS $C_P50 $C_P99 $C_US $C_OTHER ${C_ERR:-}"
      fi
    done
  done
done
same_bodies
[[ $(stat -c '%i %Y' "$crl") == "$crl_ino" ]] || die "$crl changed during the runs"
# ---- 4. OCSP: enrolld against openssl ocsp and a static answer in nginx ------------
say "OCSP: $ocsp_n requests with nonces, an index.txt of the same certificates"
ocsp_info=$("$PY" "$ocsp_reqs" ec/userca.db ec/issuing/ca.crt "$ocsp_n" \
    ocsp-post.txt ocsp-get.txt ocsp-index.txt) || die "ocsp_reqs.py failed"
[[ -s ec/issuing/ocsp.crt && -s ec/issuing/ocsp.key ]] ||
  die "userca-enrolld made no responder certificate (ec/issuing/ocsp.crt)"
get_b64=$(sed -n 1p ocsp-get.txt)
sed -n 2p ocsp-get.txt | xxd -r -p >ocsp-get.der
sed -n 1p ocsp-post.txt | xxd -r -p >ocsp-post1.der
mkdir -p ngx/www
openssl ocsp -index ocsp-index.txt -rsigner ec/issuing/ocsp.crt \
    -rkey ec/issuing/ocsp.key -CA ec/issuing/ca.crt -ndays 1 \
    -reqin ocsp-get.der -respout ngx/www/ocsp.der >ossl-presign.log 2>&1 ||
  { cat ossl-presign.log >&2; die "openssl ocsp -respout failed"; }

# openssl ocsp -port binds every address: a network namespace of its own,
# with loopback only; wrk and curl enter it.  OpenSSL 3.0's -multi children
# can spin on a connection wrk drops at the end of a run, so every openssl
# run gets a fresh responder, stopped right after it.
start_ossl() {
  local i code
  # Started from a subshell: not a job of this shell (it is stopped by PID).
  (unshare --net --fork sh -c 'ip link set lo up && exec openssl ocsp -index "$1" \
      -port "$2" -rsigner "$3" -rkey "$4" -CA "$5" -multi "$6" -ndays 1' sh \
      "$work/ocsp-index.txt" 8888 "$work/ec/issuing/ocsp.crt" \
      "$work/ec/issuing/ocsp.key" "$work/ec/issuing/ca.crt" "$ocsp_multi" \
      >>ossl-ocsp.out 2>>ossl-ocsp.log </dev/null & echo $! >ossl-ocsp.pid)
  PIDS[unshare]=$(cat ossl-ocsp.pid)
  ossl_parent=
  for ((i = 0; i < 100; i++)); do
    ossl_parent=$(ps -o pid= --ppid "${PIDS[unshare]}" | tr -d ' ' | head -1)
    [[ -n $ossl_parent ]] && break
    sleep 0.1
  done
  [[ -n $ossl_parent ]] || { cat ossl-ocsp.log >&2; die "openssl ocsp did not start"; }
  PIDS[ossl]=$ossl_parent
  NS=(nsenter "--net=/proc/$ossl_parent/ns/net")
  for ((i = 0; i < 100; i++)); do
    code=$("${NS[@]}" curl -s -o ossl-post1.der -w '%{http_code}' --max-time 2 \
        -H 'Content-Type: application/ocsp-request' --data-binary @ocsp-post1.der \
        http://127.0.0.1:8888/ 2>/dev/null) || true
    [[ $code == 200 ]] && break
    sleep 0.1
  done
  [[ $code == 200 ]] || { cat ossl-ocsp.log >&2; die "openssl ocsp did not answer within 10 s"; }
}
ossl_pids() { echo "$ossl_parent"; ps -o pid= --ppid "$ossl_parent"; }
stop_ossl() {  # SIGTERM the parent (it stops its children), then by PID
  local kids p
  kids=$(ps -o pid= --ppid "$ossl_parent" | tr '\n' ' ')
  kill -TERM "$ossl_parent" 2>/dev/null || true
  sleep 0.5
  for p in $kids "$ossl_parent" "${PIDS[unshare]}"; do kill -KILL "$p" 2>/dev/null || true; done
  unset "PIDS[unshare]"
  unset "PIDS[ossl]"
}
start_ossl

# Every server's answers verify against the root, good for the GET's
# certificate; the POST answers echo the nonce (nginx's cannot).
check_ocsp() {  # NAME FILE REQ|- [CA home]
  local out bundle=${4:-ec}/public/ca-bundle.pem
  if [[ $3 == - ]]; then
    out=$(openssl ocsp -respin "$2" -CAfile "$bundle" -resp_text 2>&1) || true
  else
    out=$(openssl ocsp -respin "$2" -reqin "$3" -CAfile "$bundle" -resp_text 2>&1) || true
  fi
  grep -q 'Response verify OK' <<<"$out" || { echo "$out" >&2; die "OCSP ($1): the answer does not verify"; }
  if [[ $3 != - ]] && grep -q 'WARNING: no nonce' <<<"$out"; then
    die "OCSP ($1): no nonce in the answer"
  fi
}
curl -sS -o enrolld-get.der "http://127.0.0.1:$p_ec_http/ocsp/$get_b64" || die "curl enrolld GET /ocsp failed"
curl -sS -o enrolld-post1.der -H 'Content-Type: application/ocsp-request' \
    --data-binary @ocsp-post1.der "http://127.0.0.1:$p_ec_http/ocsp" || die "curl enrolld POST /ocsp failed"
"${NS[@]}" curl -sS --max-time 10 -o ossl-get.der "http://127.0.0.1:8888/$get_b64" || die "curl openssl ocsp GET failed"
curl -sS -o nginx-get.der "http://127.0.0.1:$p_nginx/ocsp/$get_b64" || die "curl nginx GET /ocsp failed"
curl -sS -o nginx-post.der -H 'Content-Type: application/ocsp-request' \
    --data-binary @ocsp-post1.der "http://127.0.0.1:$p_nginx/ocsp" || die "curl nginx POST /ocsp failed"
check_ocsp "enrolld GET" enrolld-get.der -
check_ocsp "enrolld POST" enrolld-post1.der ocsp-post1.der
check_ocsp "openssl GET" ossl-get.der -
check_ocsp "openssl POST" ossl-post1.der ocsp-post1.der
check_ocsp "nginx GET" nginx-get.der -
check_ocsp "nginx POST" nginx-post.der -
stop_ossl

# run_ocsp NAME KIND URL PIDS... (KIND get|post; NAME ossl runs wrk in its
# namespace) -> O_RPS O_P50 O_P99 O_US O_OTHER O_ERR, like run_crl
run_ocsp() {
  local name=$1 kind=$2 url=$3 s0 s1 b0 b1 t0 t1 wu ws wall out=wrk-ocsp.txt
  local -a pre=() lua=()
  shift 3
  [[ $name == openssl ]] && pre=("${NS[@]}")
  [[ $kind == post ]] && lua=(-s "$ocsp_lua")
  s0=$(proc_ticks "$@") b0=$(busy_ticks)
  t0=$EPOCHREALTIME
  if [[ $kind == post ]]; then
    /usr/bin/time -f '%U %S' -o wrk.time "${pre[@]}" wrk -t"$threads" -c"$ocsp_c" \
        -d"${secs}s" --latency "${lua[@]}" "$url" -- "$work/${OCSP_POST:-ocsp-post.txt}" "$threads" \
        >"$out" 2>&1 || die "wrk (OCSP $kind, $name) failed: $(tail -5 "$out")"
  else
    /usr/bin/time -f '%U %S' -o wrk.time "${pre[@]}" wrk -t"$threads" -c"$ocsp_c" \
        -d"${secs}s" --latency "$url" \
        >"$out" 2>&1 || die "wrk (OCSP $kind, $name) failed: $(tail -5 "$out")"
  fi
  t1=$EPOCHREALTIME
  s1=$(proc_ticks "$@") b1=$(busy_ticks)
  read -r wu ws <wrk.time
  O_RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  [[ -n $O_RPS ]] || die "wrk (OCSP $kind, $name): no result: $(tail -5 "$out")"
  O_P50=$(awk '$1 == "50%" { print $2 }' "$out" | to_ms)
  O_P99=$(awk '$1 == "99%" { print $2 }' "$out" | to_ms)
  O_ERR=$(awk '/Socket errors|Non-2xx/ { $1 = $1; printf "%s; ", $0 }' "$out")
  wall=$(calc "$t1 - $t0")
  O_US=$(calc "1e6 * ($s1 - $s0) / $clk_tck / ($O_RPS * $wall)")
  O_OTHER=$(other_load "$b0" "$b1" "$(calc "($s1 - $s0) + ($wu + $ws) * $clk_tck")" "$wall")
}
declare -A OC=()
for ((r = 1; r <= rounds; r++)); do
  for k in get post; do
    if (( r % 2 == 1 )); then order=(enrolld openssl nginx); else order=(nginx openssl enrolld); fi
    for s in "${order[@]}"; do
      say "OCSP $k, $s, wrk -t$threads -c$ocsp_c -d${secs}s, round $r/$rounds"
      [[ $s == openssl ]] && start_ossl
      # $(ossl_pids), $(nginx_pids), ${DPIDS[crl]} (the monitor and its
      # network process): lists of PIDs
      # shellcheck disable=SC2046,SC2086
      case $s,$k in
        enrolld,get) run_ocsp "$s" get "http://127.0.0.1:$p_ec_http/ocsp/$get_b64" ${DPIDS[crl]} ;;
        enrolld,post) run_ocsp "$s" post "http://127.0.0.1:$p_ec_http" ${DPIDS[crl]} ;;
        openssl,get) run_ocsp "$s" get "http://127.0.0.1:8888/$get_b64" $(ossl_pids) ;;
        openssl,post) run_ocsp "$s" post "http://127.0.0.1:8888" $(ossl_pids) ;;
        nginx,get) run_ocsp "$s" get "http://127.0.0.1:$p_nginx/ocsp/$get_b64" $(nginx_pids) ;;
        nginx,post) run_ocsp "$s" post "http://127.0.0.1:$p_nginx" $(nginx_pids) ;;
      esac
      [[ $s == openssl ]] && stop_ossl
      say "   $(printf '%.0f' "$O_RPS") req/s, p99 $O_P99 ms, server CPU $(printf '%.1f' "$O_US") us/req, other load $O_OTHER%${O_ERR:+, $O_ERR}"
      read -r best _ <<<"${OC[$s,$k]:-0}"
      if [[ -z ${OC[$s,$k]:-} ]] || (( $(calc "$O_RPS > $best") )); then
        OC[$s,$k]="$O_RPS $O_P50 $O_P99 $O_US $O_OTHER ${O_ERR:-}"
      fi
    done
  done
done

# ---- 4b. OCSP with ocsp_big certificates in the database --------------------------------
# A second modern home seeded by `userca batch` (real keys, certificates,
# PKCS#12 files, removed at once), a quarter of its users revoked (one
# UPDATE, as for the CRL above) and its CRL signed; its own daemon.  Its
# runs alternate with the first home's daemon (the small database: its
# enrollments above), so both see the same machine.
declare -A OB=()
if (( ocsp_big > 0 )); then
  say "OCSP, a big home: userca batch of $ocsp_big EC users (real certificates)"
  init_home big modern "$p_big_https"
  { echo "username,email,name"; csv_rows big- "$ocsp_big"; } >big-users.csv
  t0=$EPOCHREALTIME
  "$U" batch big-users.csv --out big-out --home big --jobs "$ncpu" >big-batch.log 2>&1 ||
    { tail -5 big-batch.log >&2; die "userca batch ($ocsp_big users) failed"; }
  rm -rf big-out
  big_secs=$(calc "$EPOCHREALTIME - $t0")
  say "   seeded in $(printf '%.1f' "$big_secs") s"
  sqlite3 big/userca.db "update certificates set status = 'revoked',
      revoked_at = strftime('%s', 'now'), reason = 4
    where kind = 'user' and status = 'valid' and id % 4 = 0"
  "$U" crl --home big >big-crl.log 2>&1 || { cat big-crl.log >&2; die "userca crl (big) failed"; }
  daemon_conf big.ini "$work/big" "" "" "$p_big_http"
  start_daemon big big.ini "http://127.0.0.1:$p_big_http/healthz" /dev/null
  ocsp_big_info=$("$PY" "$ocsp_reqs" big/userca.db big/issuing/ca.crt "$ocsp_n" \
      ocsp-big-post.txt ocsp-big-get.txt ocsp-big-index.txt) || die "ocsp_reqs.py (big) failed"
  big_b64=$(sed -n 1p ocsp-big-get.txt)
  sed -n 1p ocsp-big-post.txt | xxd -r -p >ocsp-big-post1.der
  curl -sS -o big-get.der "http://127.0.0.1:$p_big_http/ocsp/$big_b64" || die "curl big GET /ocsp failed"
  curl -sS -o big-post1.der -H 'Content-Type: application/ocsp-request' \
      --data-binary @ocsp-big-post1.der "http://127.0.0.1:$p_big_http/ocsp" || die "curl big POST /ocsp failed"
  check_ocsp "big GET" big-get.der - big
  check_ocsp "big POST" big-post1.der ocsp-big-post1.der big
  for ((r = 1; r <= rounds; r++)); do
    for k in get post; do
      if (( r % 2 == 1 )); then order=(small big); else order=(big small); fi
      for s in "${order[@]}"; do
        say "OCSP $k, $s database, wrk -t$threads -c$ocsp_c -d${secs}s, round $r/$rounds"
        # shellcheck disable=SC2086  # the monitor and its network process
        case $s,$k in
          small,get) run_ocsp enrolld get "http://127.0.0.1:$p_ec_http/ocsp/$get_b64" ${DPIDS[crl]} ;;
          small,post) run_ocsp enrolld post "http://127.0.0.1:$p_ec_http" ${DPIDS[crl]} ;;
          big,get) run_ocsp enrolld get "http://127.0.0.1:$p_big_http/ocsp/$big_b64" ${DPIDS[big]} ;;
          big,post) OCSP_POST=ocsp-big-post.txt run_ocsp enrolld post "http://127.0.0.1:$p_big_http" ${DPIDS[big]} ;;
        esac
        say "   $(printf '%.0f' "$O_RPS") req/s, p99 $O_P99 ms, server CPU $(printf '%.1f' "$O_US") us/req, other load $O_OTHER%${O_ERR:+, $O_ERR}"
        read -r best _ <<<"${OB[$s,$k]:-0}"
        if [[ -z ${OB[$s,$k]:-} ]] || (( $(calc "$O_RPS > $best") )); then
          OB[$s,$k]="$O_RPS $O_P50 $O_P99 $O_US $O_OTHER ${O_ERR:-}"
        fi
      done
    done
  done
  stop_pid big
  [[ $STOP_RC -eq 0 ]] || die "userca-enrolld (big) exited with status $STOP_RC"
fi
stop_pid crl
[[ $STOP_RC -eq 0 ]] || die "userca-enrolld (CRL) exited with status $STOP_RC"
stop_pid nginx

# ---- the table -----------------------------------------------------------------------
verdict() {  # value op target
  if (( $(calc "$1 $2 $3") )); then echo "ok"; else echo "MISSED"; fi
}
load1=$(cut -d' ' -f1-3 /proc/loadavg)
rep_c=32
[[ ,$conns, == *,32,* ]] || rep_c=${conn_list[$(( ${#conn_list[@]} / 2 ))]}

echo
echo "== scripts/bench http: $ncpu cores, $(openssl version | cut -d' ' -f1-2)," \
     "wrk -t$threads, nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///') =="
echo "   machine busy in the 2 s before the start: $busy0%; load average (1, 5, 15 min)"
echo "   at start $load0, at end $load1; 'other' is the CPU other processes took"
echo "   during a run (% of $ncpu cores x wall)"
echo
echo "1. GET /crl.der: $crl_entries entries, $crl_bytes bytes; wrk -t$threads -d${secs}s," \
     "best of $rounds round(s), same run"
printf '   %5s  %11s %7s %7s  %11s %7s %7s  %7s %-10s %s\n' conns "enrolld r/s" \
    "p99 ms" "CPU us" "nginx r/s" "p99 ms" "CPU us" ratio target other
worst=0
for c in "${conn_list[@]}"; do
  read -r er _ ep99 eus eo eerr <<<"${CR[enrolld,$c]}"
  read -r nr _ np99 nus no nerr <<<"${CR[nginx,$c]}"
  ratio=$(calc "100 * $er / $nr")
  t=""
  if [[ $c == "$rep_c" ]]; then t=">=80% $(verdict "$ratio" '>=' 80)"; fi
  printf '   %5d  %11.0f %7s %7.1f  %11.0f %7s %7.1f  %6.1f%% %-10s %s%%/%s%%\n' "$c" "$er" \
      "$ep99" "$eus" "$nr" "$np99" "$nus" "$ratio" "$t" "$eo" "$no"
  [[ -z $eerr$nerr ]] || echo "          errors: enrolld: ${eerr:-none}; nginx: ${nerr:-none}"
  for o in "$eo" "$no"; do if (( o > worst )); then worst=$o; fi; done
done
echo "   (CPU us: the server's own CPU time per request, all its threads or"
echo "   workers; 'other': enrolld run / nginx run; target judged at $rep_c connections)"
echo
echo "2. CSR enrollments, HTTPS keep-alive, EC P-256 CSRs, one token each, until"
echo "   the tokens run out (time: first request sent to last answer)"
printf '   %-6s %5s %7s %7s %7s %7s %9s %11s %6s %6s\n' run conns tokens "200" other secs \
    "enroll/s" "CPU ms/enr" idle other
for r in "${enroll_runs[@]}"; do
  read -r c n sent ok bad s dcpu idle oth codes <<<"${EN[$r]}"
  printf '   %-6s %5d %7d %7d %7d %7.2f %9.0f %11.2f %5s%% %5s%%\n' "$r" "$c" "$n" "$ok" \
      "$bad" "$s" "$(calc "$ok / $s")" "$(calc "1000 * $dcpu / ($ok + $bad)")" "$idle" "$oth"
  [[ $codes == - ]] || echo "          non-200 answers: $codes"
  if (( sent != n )); then echo "          only $sent of $n tokens were sent (60 s limit)"; fi
  if (( oth > worst )); then worst=$oth; fi
done
read -r _ _ _ ok _ s _ <<<"${EN[main]}"
main_rate=$(calc "$ok / $s")
per_core=$(calc "1 / (1 / $SIGN_S + 1 / $VERIFY_S)")
printf '   %-52s %9.0f/s %8s  %s\n' "main run ($enroll_c connections)" "$main_rate" ">= 1000" \
    "$(verdict "$main_rate" '>=' 1000)"
printf '   %-52s %9.0f/s\n' "signing work alone: 1 sign + 1 verify, $ncpu cores" \
    "$(calc "$ncpu * $per_core")"
printf '     (openssl speed ecdsap256, 1 core: %.0f sign/s, %.0f verify/s = %.3f ms)\n' \
    "$SIGN_S" "$VERIFY_S" "$(calc "1000 / $per_core")"
csr_ratio=$(calc "100 * $main_rate / ($ncpu * $per_core)")
printf '   %-52s %8.1f%% %8s  %s\n' "main run / signing work alone" "$csr_ratio" ">= 9.6%" \
    "$(verdict "$csr_ratio" '>=' 9.6)"
printf '   %-52s %8.1f us\n' "IPC per enrollment: one REDEEM round trip, 1 client" "$IPC_US"
printf '   %-52s %8.1f us\n' "  the same, 16 clients at once (wall / calls)" "$IPC16_US"
echo "   (the network child parses the CSR and sends its key; the monitor decides"
echo "   the identity, checks the key, signs and commits: bench_door, no signing)"
dur=ok
if (( missing != 0 || rows < ok_total )); then dur=FAILED; fi
if (( used != rows )); then dur=FAILED; fi
echo "   durability: $ok_total answers 200, $rows enroll-csr rows ($used tokens consumed by"
echo "   them), $missing 200s without a row, $((rows - ok_total)) rows without a 200: $dur"
echo "   (CPU ms/enr: userca-enrolld's CPU per answered enrollment; idle: share of"
echo "   the machine nobody used meanwhile)"
echo
echo "3. PKCS#12 enrollment latency: sequential POSTs on one keep-alive HTTPS"
echo "   connection, body {}, the daemon's default format (legacy)"
printf '   %-10s %5s %5s %7s %7s %7s %7s %7s  %s\n' "user key" n "200" "p50 ms" "p99 ms" \
    "max ms" "mean ms" "CPU ms" "in-process mint, 1 thread (CPU)"
read -r n ok p50 p99 mx mean cpu <<<"$PE"
printf '   %-10s %5d %5d %7.1f %7.1f %7.1f %7.1f %7.2f  %.1f ms (%.2f ms)\n' "EC P-256" "$n" \
    "$ok" "$p50" "$p99" "$mx" "$mean" "$cpu" "$MINT_EC" "$MINT_EC_CPU"
read -r n ok p50 p99 mx mean cpu <<<"$PR"
printf '   %-10s %5d %5d %7.1f %7.1f %7.1f %7.1f %7.2f  %.1f ms (%.2f ms)\n' "RSA-2048" "$n" \
    "$ok" "$p50" "$p99" "$mx" "$mean" "$cpu" "$MINT_RSA" "$MINT_RSA_CPU"
read -r _ _ p50 _ _ _ cpu <<<"$PE"
ec_over=$(calc "$p50 - $MINT_EC")
printf '   %-52s %+7.1f ms %8s  %s\n' "EC p50 - in-process mint (key made in the child)" "$ec_over" \
    "<= +1.5" "$(verdict "$ec_over" '<=' 1.5)"
printf '   %-52s %+7.2f ms\n' "EC daemon CPU - mint CPU, per enrollment" \
    "$(calc "$cpu - $MINT_EC_CPU")"
echo "   (mint: bench_mint's mean over as many users of the same home, one thread,"
echo "   no HTTP, no database: compare it with the mean; RSA key generation varies"
echo "   widely.  CPU ms: userca-enrolld's CPU per request, both processes, and"
echo "   bench_mint's per user: their difference stays put while other processes"
echo "   load the machine, the latencies do not.  $p12_rows EC enroll-p12 rows recorded)"
echo
echo "4. OCSP, wrk -t$threads -c$ocsp_c -d${secs}s, best of $rounds round(s), same run;"
echo "   $ocsp_info in the database and index.txt"
printf '   %-30s %9s %7s %7s %7s  %s\n' server "answers/s" "p50 ms" "p99 ms" "CPU us" other
for k in get post; do
  if [[ $k == get ]]; then
    echo "   cacheable GET /ocsp/<base64>, one request without nonce"
  else
    echo "   POST /ocsp, a fresh nonce each ($ocsp_n pre-made requests, cycled)"
  fi
  for s in enrolld openssl nginx; do
    case $s in
      enrolld) lab="userca-enrolld" ;;
      openssl) lab="openssl ocsp -multi $ocsp_multi" ;;
      nginx) lab="nginx, static answer" ;;
    esac
    [[ $s == nginx && $k == post ]] && lab="nginx, static (no nonce)"
    read -r rps p50 p99 us oth err <<<"${OC[$s,$k]}"
    printf '   %-30s %9.0f %7s %7s %7.1f  %s%%\n' "$lab" "$rps" "$p50" "$p99" "$us" "$oth"
    [[ -z ${err:-} ]] || echo "          errors: $err"
    if (( oth > worst )); then worst=$oth; fi
  done
done
read -r eg _ egp99 _ <<<"${OC[enrolld,get]}"
read -r ng _ <<<"${OC[nginx,get]}"
read -r ep _ epp99 _ <<<"${OC[enrolld,post]}"
read -r op _ <<<"${OC[openssl,post]}"
read -r og _ <<<"${OC[openssl,get]}"
r_get=$(calc "$ng > 0 ? 100 * $eg / $ng : 0")
r_post=$(calc "$op > 0 ? $ep / $op : 0")
printf '   %-52s %8.1f%% %8s  %s\n' "cacheable GET, enrolld / nginx" "$r_get" ">= 80%" "$(verdict "$r_get" '>=' 80)"
printf '   %-52s %8.1fx\n' "cacheable GET, enrolld / openssl ocsp" "$(calc "$og > 0 ? $eg / $og : 0")"
printf '   %-52s %8.1fx %8s  %s\n' "nonce POST, enrolld / openssl ocsp -multi $ocsp_multi" "$r_post" ">= 10x" "$(verdict "$r_post" '>=' 10)"
printf '   %-52s %6s ms %8s  %s\n' "enrolld p99 at $ocsp_c connections, GET" "$egp99" "< 5 ms" "$(verdict "$egp99" '<' 5)"
printf '   %-52s %6s ms %8s  %s\n' "enrolld p99 at $ocsp_c connections, nonce POST" "$epp99" "< 5 ms" "$(verdict "$epp99" '<' 5)"
echo "   (openssl ocsp closes the connection after each answer; wrk reconnects."
echo "   nginx answers every request with one pre-signed file: a ceiling for"
echo "   GETs, and no nonce for POSTs)"
# The ceiling of nonce POSTs: each needs the HTTP work of an answer (the
# cached GET's CPU per answer, both processes), one ECDSA P-256 signature
# and one round trip between the processes (its CPU time, both sides);
# $ncpu cores share them.  10x openssl ocsp needs 10 x its rate within it.
read -r _ _ _ gus _ <<<"${OC[enrolld,get]}"
sign_us=$(calc "1e6 / $SIGN_S")
ceil=$(calc "$ncpu * 1e6 / ($gus + $sign_us + $IPC_CPU)")
printf '   %-52s %9.0f/s  = %.1fx openssl ocsp\n' "nonce POST ceiling, $ncpu cores" "$ceil" \
    "$(calc "$op > 0 ? $ceil / $op : 0")"
printf '     (%d cores x 1e6 / (%.1f us HTTP: the cached GET + %.1f us one sign + %.1f us\n' \
    "$ncpu" "$gus" "$sign_us" "$IPC_CPU"
printf '     CPU of a round trip, 16 in flight); enrolld reaches %.0f%% of it; its CPU per nonce answer %.1f us)\n' \
    "$(calc "100 * $ep / $ceil")" "$(read -r _ _ _ u _ <<<"${OC[enrolld,post]}"; echo "$u")"
if (( ocsp_big > 0 )); then
  echo
  echo "4b. OCSP with $ocsp_big certificates in the database ($ocsp_big_info; seeded by"
  echo "   userca batch in $(printf '%.0f' "$big_secs") s), alternated with the small home, best of $rounds"
  printf '   %-30s %9s %7s %7s %7s  %s\n' "" "answers/s" "p50 ms" "p99 ms" "CPU us" other
  for k in get post; do
    for s in small big; do
      read -r rps p50 p99 us oth err <<<"${OB[$s,$k]}"
      lab="$k, $s database"
      printf '   %-30s %9.0f %7s %7s %7.1f  %s%%\n' "$lab" "$rps" "$p50" "$p99" "$us" "$oth"
      [[ -z ${err:-} ]] || echo "          errors: $err"
      if (( oth > worst )); then worst=$oth; fi
    done
    read -r sr _ _ sus _ <<<"${OB[small,$k]}"
    read -r br _ bp99 bus _ <<<"${OB[big,$k]}"
    rr=$(calc "100 * $br / $sr")
    ru=$(calc "100 * $bus / $sus")
    printf '   %-52s %8.1f%% %8s  %s\n' "$k: big / small, answers/s" "$rr" ">= 90%" "$(verdict "$rr" '>=' 90)"
    printf '   %-52s %8.1f%% %8s  %s\n' "$k: big / small, CPU per answer" "$ru" "<= 110%" "$(verdict "$ru" '<=' 110)"
    printf '   %-52s %6s ms %8s  %s\n' "$k: big database p99 at $ocsp_c connections" "$bp99" "< 5 ms" "$(verdict "$bp99" '<' 5)"
  done
  echo "   (CPU per answer: both daemon processes' CPU time / answers: robust when"
  echo "   other processes load the machine, unlike answers/s)"
fi
if (( busy0 > worst )); then worst=$busy0; fi
if (( worst > 10 )); then
  echo
  echo "   WARNING: other processes took up to ${worst}% of the machine during the runs:"
  echo "   throughput figures are unreliable; re-run when the machine is idle"
fi
exit 0
