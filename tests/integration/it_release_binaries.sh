#!/usr/bin/env bash
# What ships is hardened, and test hooks are test-only (checked with binutils'
# readelf and util-linux's prlimit, not with our own code):
#  - userca and userca-enrolld are PIE, full RELRO (BIND_NOW), non-executable
#    stack, built with the stack protector (__stack_chk_fail) and FORTIFY
#    (__*_chk imports);
#  - in a build without USERCA_TEST_CLOCK (scripts/test's build-release/),
#    $USERCA_NOW is not in the binaries and does not move the clock: a root
#    made with USERCA_NOW set 20 years back starts today;
#  - both processes run with a core-file limit of 0 (keys and passwords never
#    reach a core file).
# Sanitizer builds carry their own instrumentation: skipped there.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ ${USERCA_SANITIZE:-0} == 1 ]] && skip "a sanitizer build is not what ships"
need_tool readelf prlimit mkfifo
. "$(dirname "${BASH_SOURCE[0]}")/lib_enrolld.sh"

for b in "$USERCA" "$USERCA_ENROLLD"; do
	n=${b##*/}
	readelf -h "$b" >"$T/h.txt"
	readelf -d "$b" >"$T/d.txt"
	readelf -lW "$b" >"$T/l.txt"
	readelf --dyn-syms -W "$b" >"$T/s.txt"
	check_grep "$n: position-independent executable (ELF type DYN)" 'Type:[[:space:]]+DYN' "$T/h.txt"
	check_grep "$n: RELRO segment" 'GNU_RELRO' "$T/l.txt"
	check_grep "$n: bound now (full RELRO)" '\(BIND_NOW\)|\(FLAGS\).*NOW' "$T/d.txt"
	if grep -E 'GNU_STACK' "$T/l.txt" | grep -q 'RWE'; then
		bad "$n: executable stack"
	else
		pass "$n: stack not executable"
	fi
	check_grep "$n: stack protector (__stack_chk_fail)" '__stack_chk_fail' "$T/s.txt"
	check_grep "$n: FORTIFY_SOURCE (__*_chk imports)" ' __[a-z]+_chk(@|$)' "$T/s.txt"
done

if [[ ${USERCA_TEST_CLOCK:-1} == 0 ]]; then
	for b in "$USERCA" "$USERCA_ENROLLD"; do
		if grep -q USERCA_NOW "$b"; then bad "${b##*/}: USERCA_NOW is in the binary"; else pass "${b##*/}: no USERCA_NOW in the binary"; fi
	done
	past=$(( $(date +%s) - 20 * 365 * 86400 ))
	must "init with USERCA_NOW 20 years back" env USERCA_NOW=$past "$USERCA" init --home "$T/pki" \
	    --org "$ORG" --base-url "$BASE_URL" --passphrase-file "$PASSFILE"
	nb=$(date -d "$(openssl x509 -in "$T/pki/root/root.crt" -noout -startdate | sed 's/^notBefore=//')" +%s)
	check_cond "the root starts now, not 20 years back (notBefore $nb)" "(( nb > $(date +%s) - 2 * 86400 ))"
else
	echo "SKIP: this build honours USERCA_NOW (USERCA_TEST_CLOCK=ON): the release check runs in build-release/"
fi

ed_home "$T/d"
# Core limit of the CLI: it blocks opening a FIFO named as its CSV.
mkfifo "$T/users.fifo"
"$USERCA" batch "$T/users.fifo" --dry-run --home "$T/d" >/dev/null 2>&1 &
pid=$!
sleep 0.5
check_eq "userca: core-file limit 0" "$(prlimit --pid "$pid" --core -o SOFT,HARD --noheadings 2>&1 | tr -s ' ' | sed 's/^ //')" "0 0"
timeout 5 sh -c "echo username >'$T/users.fifo'" || true
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true

ed_conf "$T/d.ini" "$T/d"
ed_start d "$T/d.ini"
check_eq "userca-enrolld: core-file limit 0" "$(prlimit --pid "${ED_PID[d]}" --core -o SOFT,HARD --noheadings 2>&1 | tr -s ' ' | sed 's/^ //')" "0 0"
ed_stop d
check_eq "userca-enrolld: SIGTERM exit 0" "$ED_RC" 0

# The systemd unit confines the daemon (systemd-analyze reads it offline).
U=$UC_SRC/scripts/userca-enrolld.service
for d in 'NoNewPrivileges=yes' 'SystemCallFilter=@system-service' 'MemoryDenyWriteExecute=yes' \
    'LockPersonality=yes' 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' 'ProtectSystem=strict' \
    'ReadWritePaths=/var/lib/userca' 'LimitCORE=0'; do
	check_grep "userca-enrolld.service: $d" "^${d}\$" "$U"
done
if command -v systemd-analyze >/dev/null; then
	sed "s|^ExecStart=[^ ]*|ExecStart=/bin/true|" "$U" >"$T/userca-enrolld.service"
	check "systemd-analyze verify accepts the unit" systemd-analyze verify "$T/userca-enrolld.service"
	systemd-analyze security --offline=true "$T/userca-enrolld.service" >"$T/sec.txt" 2>&1 || true
	lvl=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$T/sec.txt")
	# At most 2.2 ("OK"): 0.7 of it are "runs as root" and CAP_SETUID/
	# CAP_SETGID, which the privilege-separated monitor needs to start its
	# network process as another uid (that process is confined further by
	# the daemon itself: seccomp, Landlock, no access to the CA home).
	check_cond "systemd-analyze security: exposure ${lvl:-?} at most 2.2 (OK)" "awk 'BEGIN { exit !(${lvl:-10} <= 2.2) }'"
fi

summary
