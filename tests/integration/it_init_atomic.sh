#!/usr/bin/env bash
# init and intermediate install build out of place (issue 10, item 4): a run
# that fails or is killed half-way leaves no half home, so the next run
# succeeds, and no staging folder is left once it has.  Failures come from
# strace: the Nth rename(2) fails with EIO or kills the process (SIGKILL),
# for every N until the run gets through (every third N in sanitizer
# builds); also kills at every fifth fsync(2), and kills during a merge
# into a folder that holds other files (undone by the next run).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tool strace

INIT=(init --org "$ORG" --base-url "$BASE_URL" --passphrase-file "$PASSFILE"
      --profile modern)

# faulty SYSCALL N ACTION CMD...: CMD with the Nth SYSCALL failing (ACTION:
# error=EIO or signal=KILL); exit status in $RC.
faulty() {
	local sc=$1 n=$2 act=$3; shift 3
	# Through sh, so bash reports no "Killed" for the process strace kills.
	# LeakSanitizer cannot run under ptrace: off for this run only (the
	# runs after it, without strace, keep it).
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	    run sh -c '"$@"; exit $?' sh strace -f -qq -o /dev/null -e trace="$sc" \
	    -e inject="$sc:$act:when=$n" "$@"
}

# leftovers DIR NAME: staging folders of NAME beside it or in it.
leftovers() {
	{ ls -A "$1" | grep -E "^\.$2\.(init|install)-" || true
	  [[ -d $1/$2 ]] && { ls -A "$1/$2" | grep -E '^\.(init|install)-' || true; }
	} | wc -l
}

# A good home: the chain verifies and the records open.
home_ok() {
	openssl verify -CAfile "$1/root/root.crt" -untrusted "$1/issuing/ca.crt" \
	    "$1/issuing/ca.crt" >/dev/null 2>&1 &&
	    [[ -s $1/public/crl.der ]] &&
	    [[ $(sqlite3 "$1/userca.db" 'PRAGMA integrity_check') == ok ]]
}

# ---- init into a new folder and into an empty one ----------------------------
# Sanitizer builds run every third N of each sweep (they are slower).
SPARSE=1
[[ ${USERCA_SANITIZE:-0} == 1 ]] && SPARSE=3

# try_init MODE SYSCALL ACTION [STEP]: N = 1, 1+STEP, ... until init gets
# through (STEP: $SPARSE by default).
try_init() {
	local mode=$1 sc=$2 act=$3 step=${4:-$SPARSE} n=1 failed=0 refused=0 half=0 left=0 bad_next=0
	local H=$T/$mode
	while :; do
		rm -rf "$H"
		[[ $mode == empty ]] && mkdir -m 0750 "$H"
		faulty "$sc" "$n" "$act" "$USERCA" "${INIT[@]}" --home "$H"
		[[ $RC -eq 0 ]] && break
		failed=$((failed + 1))
		# A failed run leaves nothing that looks like a CA, or (killed
		# after the home moved in) a whole one.
		for f in userca.conf userca.db root/root.key root/root.crt \
		    issuing/ca.key issuing/ca.crt; do
			[[ -e $H/$f ]] || continue
			if home_ok "$H"; then
				rm -rf "$H"
				[[ $mode == empty ]] && mkdir -m 0750 "$H"
			else
				half=$((half + 1))
			fi
			break
		done
		run uc "${INIT[@]}" --home "$H"
		if [[ $RC -ne 0 ]]; then
			grep -q 'already holds a CA' "$ERR" && refused=$((refused + 1))
			bad_next=$((bad_next + 1))
		elif ! home_ok "$H"; then
			bad_next=$((bad_next + 1))
		fi
		[[ $(leftovers "$T" "$mode") -eq 0 ]] || left=$((left + 1))
		if [[ $mode == empty && $RC -eq 0 ]]; then
			[[ $(stat -c %a "$H") == 750 ]] || bad_next=$((bad_next + 1))
		fi
		n=$((n + step))
		[[ $n -gt 60 ]] && break
	done
	check_cond "init ($mode folder, ${sc} #1..#$((n - step)) step $step $act): failed runs ($failed)" \
	    "[[ $failed -ge 2 ]]"
	check_eq "init ($mode, $sc $act): no failed run left a half home" "$half" 0
	check_eq "init ($mode, $sc $act): the next init was never refused" "$refused" 0
	check_eq "init ($mode, $sc $act): the next init always made a good home" "$bad_next" 0
	check_eq "init ($mode, $sc $act): no staging folder left after it" "$left" 0
	check "init ($mode, $sc $act): the run that got through made a good home" home_ok "$H"
}

try_init new rename error=EIO
try_init new rename signal=KILL
try_init new fsync signal=KILL $((SPARSE * 5))
try_init empty rename signal=KILL

# A folder that already holds other files: init merges into it, and a
# failing move puts back what it moved.
H=$T/busy
rm -rf "$H"; mkdir "$H"; echo keep >"$H/notes.txt"
n=1 half=0 fails=0
while :; do
	faulty rename "$n" error=EIO "$USERCA" "${INIT[@]}" --home "$H"
	[[ $RC -eq 0 ]] && break
	fails=$((fails + 1))
	[[ -e $H/root/root.key || -e $H/userca.conf || -e $H/userca.db ]] && half=$((half + 1))
	n=$((n + SPARSE)); [[ $n -gt 60 ]] && break
done
check_cond "init (non-empty folder): failed runs ($fails)" "[[ $fails -ge 2 ]]"
check_eq "init (non-empty folder): no failed run left a half home" "$half" 0
check "init (non-empty folder): made a good home" home_ok "$H"
check_eq "init (non-empty folder): its own file kept" "$(cat "$H/notes.txt")" keep
check_eq "init (non-empty folder): no staging folder left" "$(leftovers "$T" busy)" 0
expect_rc 1 "init over a CA home is still refused" uc "${INIT[@]}" --home "$H"

# The same folder, the Nth rename killing the run (the moves file by file,
# then the journal's own renames): the next init undoes what a killed merge
# moved in (home/.userca-merge) and makes a good home, never refused.
n=1 kills=0 refused=0 bad_next=0
while :; do
	rm -rf "$H"; mkdir "$H"; echo keep >"$H/notes.txt"
	faulty rename "$n" signal=KILL "$USERCA" "${INIT[@]}" --home "$H"
	[[ $RC -eq 0 ]] && break
	kills=$((kills + 1))
	run uc "${INIT[@]}" --home "$H"
	if [[ $RC -ne 0 ]]; then
		grep -q 'already holds a CA' "$ERR" && refused=$((refused + 1))
		bad_next=$((bad_next + 1))
	elif ! home_ok "$H" || [[ $(cat "$H/notes.txt") != keep ]] ||
	    [[ -e $H/.userca-merge ]]; then
		bad_next=$((bad_next + 1))
	fi
	n=$((n + SPARSE)); [[ $n -gt 60 ]] && break
done
check_cond "init (non-empty folder, rename killed): killed runs ($kills)" "[[ $kills -ge 2 ]]"
check_eq "init (non-empty folder, rename killed): the next init was never refused" "$refused" 0
check_eq "init (non-empty folder, rename killed): the next init always made a good home, notes kept, no journal" "$bad_next" 0

# ---- intermediate install -----------------------------------------------------
OFF=$T/offline
ca_init "$OFF" --profile modern
must "intermediate request" uc intermediate request --home "$T/req" --org "$ORG" \
    --base-url "$BASE_URL" --profile modern --out "$T/int.csr"
must "root sign-intermediate" uc root sign-intermediate --home "$OFF" "$T/int.csr" \
    --out "$T/int.crt" --passphrase-file "$PASSFILE"

try_install() {
	local sc=$1 act=$2 step=${3:-$SPARSE} n=1 failed=0 refused=0 bad_next=0 left=0 half=0
	local H=$T/online
	while :; do
		rm -rf "$H"; cp -a "$T/req" "$H"
		faulty "$sc" "$n" "$act" "$USERCA" intermediate install --home "$H" \
		    "$T/int.crt" --root "$OFF/root/root.crt"
		[[ $RC -eq 0 ]] && break
		failed=$((failed + 1))
		if [[ -e $H/userca.db ]]; then
			# Killed after the database moved in: a whole home.
			home_ok "$H" || half=$((half + 1))
			rm -rf "$H"; cp -a "$T/req" "$H"
		fi
		run uc intermediate install --home "$H" "$T/int.crt" --root "$OFF/root/root.crt"
		if [[ $RC -ne 0 ]]; then
			grep -q 'already has an issuing CA' "$ERR" && refused=$((refused + 1))
			bad_next=$((bad_next + 1))
		elif ! home_ok "$H" || ! cmp -s "$H/issuing/ca.key" "$T/req/issuing/ca.key"; then
			bad_next=$((bad_next + 1))
		fi
		[[ $(leftovers "$T" online) -eq 0 ]] || left=$((left + 1))
		n=$((n + step)); [[ $n -gt 60 ]] && break
	done
	check_cond "install ($sc #1..#$((n - step)) step $step $act): failed runs ($failed)" "[[ $failed -ge 2 ]]"
	check_eq "install ($sc $act): no failed run left a half home" "$half" 0
	check_eq "install ($sc $act): the next install was never refused" "$refused" 0
	check_eq "install ($sc $act): the next install always made a good home" "$bad_next" 0
	check_eq "install ($sc $act): no staging folder left after it" "$left" 0
	check "install ($sc $act): the run that got through made a good home" home_ok "$H"
}

try_install rename error=EIO
try_install rename signal=KILL
try_install fsync signal=KILL $((SPARSE * 5))
expect_rc 1 "a second install is still refused" \
    uc intermediate install --home "$T/online" "$T/int.crt" --root "$OFF/root/root.crt"
check_stderr "...naming it" 'already has an issuing CA installed'

summary
