#!/usr/bin/env bash
# Batch progress people can trust (issue 16, item 5): users are counted as
# the workers mint them, not per commit group (a group is 128 users, so a
# 20-user batch used to show nothing until all 20 were recorded), and with
# stderr not a terminal one plain line per interval ('batch: 5/20 users,
# 3/s, ETA 5s') shows life in cron logs and '| tee'.  The interval is 10 s;
# a USERCA_TEST_CLOCK build takes USERCA_TEST_PROGRESS_INTERVAL (seconds)
# so the test need not wait.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ ${USERCA_TEST_CLOCK:-0} == 1 ]] || skip "needs a USERCA_TEST_CLOCK build (USERCA_TEST_PROGRESS_INTERVAL)"

H=$T/h
ca_init "$H"
{ echo username,email; for i in $(seq -w 1 20); do echo "p$i,p$i@example.com"; done; } >users.csv

USERCA_TEST_PROGRESS_INTERVAL=0.05 check "batch of 20, one worker, stderr to a file" \
    uc batch users.csv --home "$H" --out out --jobs 1 --passphrase-file "$PASSFILE"
check_stdout "the summary is on stdout as before" "^users.csv: 20 rows: 20 issued"
grep -E '^batch: ' "$ERR" >progress.txt || true
check_cond "progress lines appeared on stderr ($(wc -l <progress.txt))" "[[ \$(wc -l <progress.txt) -ge 2 ]]"
check_nogrep "no terminal control codes without a TTY" $'\033|\r' "$ERR"
grep -Ev '^batch: [0-9]+/20 users, [0-9]+/s, ETA ([0-9]+h)?([0-9]+m)?[0-9]+[sm]$' progress.txt >odd.txt || true
check_nogrep "every progress line has the documented form" '.' odd.txt
counts=$(sed -E 's|^batch: ([0-9]+)/.*|\1|' progress.txt | tr '\n' ' ')
check_cond "users counted as minted, before the commit group of 20 ($counts)" \
    "sed -E 's|^batch: ([0-9]+)/.*|\\1|' progress.txt | awk '\$1 >= 1 && \$1 < 20 { n++ } END { exit !(n >= 1) }'"
check_cond "the count never goes back ($counts)" \
    "sed -E 's|^batch: ([0-9]+)/.*|\\1|' progress.txt | awk 'NR > 1 && \$1 < prev { bad = 1 } { prev = \$1 } END { exit bad }'"

# A second run skips everyone: progress counts the skipped users too and
# the run still ends with its summary.
USERCA_TEST_PROGRESS_INTERVAL=0.05 check "re-run: everyone skipped" \
    uc batch users.csv --home "$H" --out out --jobs 1 --passphrase-file "$PASSFILE"
check_stdout "re-run summary" "20 skipped"

summary
