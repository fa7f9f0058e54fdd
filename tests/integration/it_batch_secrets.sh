#!/usr/bin/env bash
# Batch passwords and enrollment links never leak to another local user.
#  - a folder another user (nobody, through runuser) made first, world-writable
#    with an empty 0666 journal waiting, is refused before anything is issued:
#    the journal stays empty, no certificate is recorded;
#  - a folder of ours that is group/world-writable, a .partial/ that is, a
#    journal that is 0666, a hard link or a symlink: each refused, naming it;
#  - a finished run wipes and removes its journal (the manifest, 0600, has
#    what it held); a later run into the same folder keeps the earlier rows in
#    the manifest, each user once, every password opening its file.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tool runuser

BASE_URL=http://127.0.0.1:1
H=$T/pki
ca_init "$H" --intermediate --profile modern
printf 'username,email\nann,ann@example.com\nben,ben@example.com\n' >"$T/users.csv"
J=.userca-batch.journal

# ---- another user's folder ------------------------------------------------------------
if [[ $(id -u) -eq 0 ]] && runuser -u nobody -- true 2>/dev/null; then
	D=$(runuser -u nobody -- mktemp -d /tmp/userca-attack.XXXXXX)
	runuser -u nobody -- chmod 777 "$D"
	runuser -u nobody -- sh -c "umask 0; : >'$D/$J'"
	before=$(db_state "$H")
	expect_rc 1 "a folder made by nobody (0777, empty 0666 journal waiting)" \
	    uc batch "$T/users.csv" --home "$H" --out "$D"
	check_stderr "the refusal names the owner" "belongs to uid $(id -u nobody)"
	check_eq "nothing reached nobody's journal" "$(stat -c %s "$D/$J")" 0
	check_eq "nothing was recorded" "$(db_state "$H")" "$before"
	check_eq "no bundle in nobody's folder" "$(find "$D" -name '*.p12' | wc -l)" 0
	expect_rc 1 "the same with --tokens (links instead of passwords)" \
	    uc batch "$T/users.csv" --home "$H" --out "$D" --tokens
	check_eq "nothing reached nobody's journal (--tokens)" "$(stat -c %s "$D/$J")" 0
	rm -rf "$D"
else
	echo "SKIP: not root or no 'nobody' account: the second-user case is not run"
fi

# ---- our own folder, left open -----------------------------------------------------------
mkdir -m 777 "$T/open"
chmod 777 "$T/open"
expect_rc 1 "a world-writable folder of ours" uc batch "$T/users.csv" --home "$H" --out "$T/open"
check_stderr "the refusal says who can write and what to do" "writable by everyone.*chmod 700"
mkdir -m 770 "$T/group"
chmod 770 "$T/group"
expect_rc 1 "a group-writable folder" uc batch "$T/users.csv" --home "$H" --out "$T/group"
check_stderr "the refusal names the group" "writable by its group"
mkdir -m 700 "$T/part" && mkdir -m 777 "$T/part/.partial" && chmod 777 "$T/part/.partial"
expect_rc 1 "a world-writable .partial/" uc batch "$T/users.csv" --home "$H" --out "$T/part"
check_stderr "the refusal names .partial" "part/.partial is writable by everyone"
mkdir -m 700 "$T/jmode" && (umask 0; : >"$T/jmode/$J")
expect_rc 1 "a 0666 journal" uc batch "$T/users.csv" --home "$H" --out "$T/jmode"
check_stderr "the refusal names the journal" "$J is not a private file"
mkdir -m 700 "$T/jlink" && (umask 077; : >"$T/elsewhere") && ln "$T/elsewhere" "$T/jlink/$J"
expect_rc 1 "a journal hard-linked to another file" uc batch "$T/users.csv" --home "$H" --out "$T/jlink"
check_eq "the other file got nothing" "$(stat -c %s "$T/elsewhere")" 0
mkdir -m 700 "$T/jsym" && ln -s "$T/elsewhere2" "$T/jsym/$J"
expect_rc 1 "a journal that is a symlink" uc batch "$T/users.csv" --home "$H" --out "$T/jsym"
check_nofile "the symlink's target was not created" "$T/elsewhere2"

# ---- a finished run removes its journal; later runs keep the manifest ---------------------
must "batch into a fresh folder" uc batch "$T/users.csv" --home "$H" --out "$T/out"
check_nofile "the journal is gone once the run finished" "$T/out/$J"
check_mode "manifest.csv is 0600" "$T/out/manifest.csv" 600
printf 'username,email\nann,ann@example.com\nben,ben@example.com\ncy,cy@example.com\n' >"$T/more.csv"
must "a later run with one more user" uc batch "$T/more.csv" --home "$H" --out "$T/out"
check_stdout "the later run issues cy alone" " 1 issued, 2 skipped"
check "the manifest keeps ann and ben and adds cy, each once; every password opens its file" "$PY" -c '
import csv, sys
from cryptography.hazmat.primitives.serialization import pkcs12
rows = list(csv.DictReader(open(sys.argv[1] + "/manifest.csv")))
names = sorted(r["username"] for r in rows)
assert names == ["ann", "ben", "cy"], names
for r in rows:
    k, c, _ = pkcs12.load_key_and_certificates(open(sys.argv[1] + "/" + r["p12_file"], "rb").read(), r["password"].encode())
    assert format(c.serial_number, "X") == r["serial"].lstrip("0"), r
' "$T/out"
check_nofile "the journal is gone again" "$T/out/$J"
must "revoke ben" uc revoke --home "$H" --user ben
must "a run after the revocation" uc batch "$T/users.csv" --home "$H" --out "$T/out"
check "ben's new certificate replaces his revoked row in the manifest" "$PY" -c '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1] + "/manifest.csv")))
names = sorted(r["username"] for r in rows)
assert names == ["ann", "ben", "cy"], names
' "$T/out"

summary
