#!/usr/bin/env bash
# userca notify (issue 14, item 2): with the clock ~340 days ahead, each user
# due within the window gets one mail through the sendmail(8) interface
# ('PATH -t -oi', message on stdin: a stub here) with a renewal link that
# lives until the certificate expires and the date, the admin a summary;
# a second run mails nobody; a new threshold (7d) mails once more; a user
# the mailer refuses is retried next run; a template with every
# placeholder; once end to end through Debian's msmtp into an SMTP sink
# (python3-aiosmtpd) on 127.0.0.1; the systemd example (systemd-analyze
# verify; its ExecStart lines run as systemd would: the 7d reminder still
# comes when the 30d run exits 3 for a user without an address).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

H=$T/pki
ca_init "$H" --intermediate --profile modern --allow-http-links
db() { sqlite3 "$H/userca.db" "$@"; }

printf 'username,email,name\nn01,n01@example.com,Nora Ek\nn02,n02@example.com,\nn03,,\nr01,r01@example.com,\n' >n.csv
printf 'username,email\nb01,b01@example.com\n' >b.csv
must "batch N (365 days)" uc batch n.csv --home "$H" --out "$T/in"
must "batch B (400 days)" uc batch b.csv --home "$H" --out "$T/ib" --days 400
must "revoke r01" uc revoke --user r01 --reason keyCompromise --home "$H" --passphrase-file "$PASSFILE" --yes

# The stub: each message to $T/mail/N.eml, its arguments to N.args.
mkdir -p "$T/mail"
cat >"$T/sendmail" <<EOS
#!/bin/sh
n=\$(ls "$T/mail" | grep -c '\.eml\$')
echo "\$@" >"$T/mail/\$n.args"
cat >"$T/mail/\$n.eml"
EOS
chmod 755 "$T/sendmail"
printf '#!/bin/sh\ncat >/dev/null\nexit 75\n' >"$T/sendmail-down"
chmod 755 "$T/sendmail-down"
nmail() { ls "$T/mail" | grep -c '\.eml$' || true; }
to_of() { for f in "$T"/mail/*.eml; do sed -n 's/^To: //p' "$f"; done | sort | paste -sd, -; }

export USERCA_NOW=$(($(date +%s) + 340 * 86400))

run uc notify --home "$H" --expiring 30d --sendmail "$T/sendmail" --dry-run
check_eq "dry run: exit 3 (n03 has no address)" "$RC" 3
check_stdout "dry run: would mail n01 and n02" "would mail n01 <n01@example.com>"
check_eq "dry run: nothing mailed" "$(nmail)" 0
check_eq "dry run: no link made" "$(db "select count(*) from tokens")" 0

# n02's mailer is down the first time.
run uc notify --home "$H" --expiring 30d --sendmail "$T/sendmail-down"
check_eq "mailer down: exit 3" "$RC" 3
check_stderr "mailer down: named" "n01: .*sendmail-down -t -oi failed \(exit 75\)"
check_eq "mailer down: no reminder recorded" "$(db "select count(*) from reminders")" 0
check_eq "mailer down: its links ended" "$(db "select count(*) from tokens where expires_at > $USERCA_NOW")" 0

run uc notify --home "$H" --expiring 30d --sendmail "$T/sendmail" --admin pki@example.com
check_eq "notify: exit 3 (n03 has no address)" "$RC" 3
check_stderr "n03 named" "n03: no email address"
check_eq "mails: n01, n02 and the admin (not b01, r01)" "$(to_of)" "n01@example.com,n02@example.com,pki@example.com"
check_eq "sendmail called as -t -oi" "$(cat "$T"/mail/*.args | sort -u)" "-t -oi"
f=$(grep -l '^To: n01@example.com' "$T"/mail/*.eml)
NA=$(db "select not_after from certificates c join users u on u.id = c.user_id where u.username = 'n01'")
WHEN=$(date -u -d @"$NA" +%Y-%m-%dT%H:%M:%SZ)
check_grep "n01's mail: subject with the date" "^Subject: Your certificate expires on $WHEN" "$f"
check_grep "n01's mail: the name" "^Hello Nora Ek," "$f"
check_grep "n01's mail: a link" "^  http://pki\.example\.test/enroll/[A-Za-z0-9_-]+$" "$f"
check_grep "n01's mail: days left" "in 2[45] days" "$f"
URL=$(sed -n 's/^  \(http:.*\)$/\1/p' "$f")
HASH=$(printf %s "${URL##*/}" | sha256sum | cut -d' ' -f1 | tr a-f A-F)
check_eq "the link is n01's, renews the certificate and lives until it expires" \
	"$(db "select u.username, t.expires_at = $NA, t.renews = c.id from tokens t join users u on u.id = t.user_id join certificates c on c.user_id = u.id where hex(t.hash) = '$HASH'")" "n01|1|1"
a=$(grep -l '^To: pki@example.com' "$T"/mail/*.eml)
check_grep "admin summary: counts" "3 users due within 30 days; 2 mailed now" "$a"
check_grep "admin summary: n03 not mailed" "n03 +NOT MAILED: no email address" "$a"
check_grep "admin summary: n01 and its date" "n01 +n01@example.com, expires $WHEN" "$a"

n=$(nmail)
run uc notify --home "$H" --expiring 30d --sendmail "$T/sendmail" --admin pki@example.com --json
check_eq "second run: nobody mailed" "$(nmail)" "$n"
check_eq "second run: 2 mailed before" "$(py 'import json,sys; j=json.load(open(sys.argv[1])); print(j["mailed"], j["already"])' "$OUT")" "0 2"
check_eq "a reminder row per user and threshold" "$(db "select count(*) from reminders where threshold = 30")" 2
# The same second run on the clock a release build reads: libfaketime 340
# days ahead (not under the sanitizers: LD_PRELOAD would precede them).
FT=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -1 || true)
if [[ -n $FT && ${USERCA_SANITIZE:-0} != 1 ]]; then
	run env USERCA_NOW= LD_PRELOAD="$FT" FAKETIME=+340d "$USERCA" notify --home "$H" --expiring 30d \
	    --sendmail "$T/sendmail" --admin pki@example.com --json
	check_eq "second run, libfaketime +340d: nobody mailed, 2 mailed before, 3 due" \
	    "$(nmail) $(py 'import json,sys; j=json.load(open(sys.argv[1])); print(j["mailed"], j["already"], j["due"])' "$OUT")" "$n 0 2 3"
fi

# A 7-day reminder is another threshold: mailed once more, with a template.
cat >tmpl.txt <<'EOT'
Subject: [PKI] {username}: {days} days left ({not_after}) – renew
 
{name}|{username}|{email}|{not_after}|{url}|{days}|{unknown}
EOT
sed -i '2s/ //' tmpl.txt
export USERCA_NOW=$(($(date +%s) + 360 * 86400))
rm -f "$T"/mail/*
run uc notify --home "$H" --expiring 7d --sendmail "$T/sendmail" --template tmpl.txt --admin ''
check_eq "7d: n01, n02 mailed again, no admin" "$(to_of)" "n01@example.com,n02@example.com"
f=$(grep -l '^To: n02@example.com' "$T"/mail/*.eml)
check_grep "template: non-ASCII subject is RFC 2047" '^Subject: =\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=$' "$f"
check_eq "template: subject decodes" "$(py 'import email.header,sys; print(str(email.header.make_header(email.header.decode_header(open(sys.argv[1]).read().split("Subject: ")[1].split("\n")[0]))))' "$f")" "[PKI] n02: 5 days left ($(date -u -d @"$(db "select not_after from certificates c join users u on u.id = c.user_id where u.username = 'n02'")" +%Y-%m-%dT%H:%M:%SZ)) – renew"
check_grep "template: every placeholder" "^n02\|n02\|n02@example\.com\|[0-9T:-]+Z\|http://pki\.example\.test/enroll/[A-Za-z0-9_-]+\|5\|\{unknown\}$" "$f"
run uc notify --home "$H" --expiring 7d --sendmail "$T/sendmail"
check_eq "7d again: nobody" "$(nmail)" 2
printf 'no subject\n\nbody\n' >bad.txt
expect_rc 2 "a template without Subject is refused" uc notify --home "$H" --template bad.txt
check_stderr "...naming it" "bad.txt: the first line must be 'Subject: ...'"

# ---- the systemd example: scripts/userca-notify.service + .timer ---------------------------
# Its ExecStart lines run in order as systemd runs them: the next only when
# the last one's exit status counts as success (0 or SuccessExitStatus=).
# A user without an address makes the 30d run exit 3; the 7d run must still
# come, or whoever is 7 days from expiry never gets the second reminder.
UNIT=$USERCA_SRC/scripts/userca-notify.service
if command -v systemd-analyze >/dev/null; then
	sed "s|^ExecStart=[^ ]*|ExecStart=/bin/true|" "$UNIT" >"$T/userca-notify.service"
	cp "$USERCA_SRC/scripts/userca-notify.timer" "$T/"
	must "systemd-analyze verify: the service and the timer" \
	    systemd-analyze verify "$T/userca-notify.service" "$T/userca-notify.timer"
fi
check_grep "the timer starts the service daily" '^OnCalendar=\*-\*-\* 08:00:00$' "$USERCA_SRC/scripts/userca-notify.timer"
unset USERCA_NOW
SD=$T/sd
ca_init "$SD" --intermediate --profile modern --allow-http-links
printf 'username,email\ns01,\ns02,s02@example.com\n' >sd.csv
must "batch s01 (no address), s02, 5 days" uc batch sd.csv --home "$SD" --out "$T/isd" --days 5
rm -f "$T"/mail/*
ok_rc=" 0 $(sed -n 's/^SuccessExitStatus=//p' "$UNIT" | tr '\n' ' ') "
ran=0
while read -r line; do
	read -r -a cmd <<<"${line#ExecStart=}"
	cmd[0]=$USERCA
	for ((i = 0; i < ${#cmd[@]}; i++)); do [[ ${cmd[i]} == --home ]] && cmd[i + 1]=$SD; done
	run "${cmd[@]}" --sendmail "$T/sendmail"
	ran=$((ran + 1))
	[[ $ok_rc == *" $RC "* ]] || break
done < <(grep '^ExecStart=' "$UNIT")
check_eq "the unit's two runs (30d, then 7d) both ran, though s01 has no address (exit 3)" "$ran" 2
check_eq "s02 got both reminders (30 and 7 days)" \
    "$(sqlite3 "$SD/userca.db" "select group_concat(threshold) from (select threshold from reminders order by threshold desc)")" "30,7"

# ---- end to end: msmtp into an SMTP sink ------------------------------------------------------
if command -v msmtp >/dev/null && "$PY" -c 'import aiosmtpd' 2>/dev/null; then
	unset USERCA_NOW
	H=$T/pk
	ca_init "$H" --intermediate --allow-http-links
	printf 'username,email\nm01,m01@example.com\n' >m.csv
	must "batch m01" uc batch m.csv --home "$H" --out "$T/im"
	PORT=$(free_port)
	mkdir -p "$T/mhome"	# the sink makes its Maildir
	"$PY" -m aiosmtpd -n -l "127.0.0.1:$PORT" -c aiosmtpd.handlers.Mailbox "$T/mbox" >"$T/smtpd.log" 2>&1 &
	SMTPD=$!
	for i in $(seq 1 100); do "$PY" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$PORT" 2>/dev/null && break; sleep 0.1; done
	printf 'account default\nhost 127.0.0.1\nport %s\nfrom pki@example.com\nauth off\ntls off\n' "$PORT" >"$T/mhome/.msmtprc"
	chmod 600 "$T/mhome/.msmtprc"
	export USERCA_NOW=$(($(date +%s) + 340 * 86400))
	HOME=$T/mhome run uc notify --home "$H" --sendmail "$(command -v msmtp)" --admin admin@example.com
	check_eq "msmtp: exit 0" "$RC" 0
	sleep 0.5
	kill "$SMTPD" 2>/dev/null; wait "$SMTPD" 2>/dev/null || true
	check_eq "the sink got m01's reminder and the summary" "$(cat "$T"/mbox/new/* 2>/dev/null | sed -n 's/^To: //p' | sort | paste -sd, -)" "admin@example.com,m01@example.com"
	check_grep "m01's reminder holds the link" "^  http://pki\.example\.test/enroll/" "$(grep -l '^To: m01@example.com' "$T"/mbox/new/* | head -1)"
else
	echo "SKIP: msmtp or python3-aiosmtpd missing (scripts/deps installs them): no end-to-end mail"
fi
summary
