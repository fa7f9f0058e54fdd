#!/usr/bin/env bash
# INI errors point at the right line: with two bad lines, userca.conf and
# userca-enrolld's config report the first one, with that line's own problem
# (inih returns the first bad line; the message used to be the last one's).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib_enrolld.sh"

printf '[ca]\nhome = %s\nbogus_one = 1\n[limits]\nrequest_timeout = 3x\n' "$T/nohome" >"$T/ed.ini"
expect_rc 1 "userca-enrolld --check: a config with two bad lines" "$USERCA_ENROLLD" --config "$T/ed.ini" --check
check_stderr "names line 3 and its unknown setting" "ed\.ini:3: unknown setting \[ca\] bogus_one"
check_nogrep "does not pin line 5's problem on line 3" ":3: .*request_timeout" "$ERR"

H=$T/pki
ca_init "$H" --intermediate --profile modern
cp "$H/userca.conf" "$T/userca.conf.good"
n=$(wc -l <"$H/userca.conf")
{ cat "$T/userca.conf.good"; printf 'bogus_two = 2\n[ca]\nuser_days = -5\n'; } >"$H/userca.conf"
expect_rc 1 "userca list: a userca.conf with two bad lines" uc list --home "$H"
check_stderr "names line $((n + 1)) and its unknown setting" "userca\.conf:$((n + 1)): unknown setting .*bogus_two"
check_nogrep "does not pin the later line's problem on it" "user_days" "$ERR"

summary
