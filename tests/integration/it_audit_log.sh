#!/usr/bin/env bash
# The tamper-evident audit log (issue 14, item 6; DESIGN 21): every row holds
# the previous row's hash; `userca log --verify` passes on a long history
# (batch, revocations, tokens, CRLs, a daemon enrollment) and, on copies of
# the home edited with sqlite3, names the edited, deleted or inserted row
# (exit 1).  A chain recomputed after an edit (audit_chain.py, the documented
# encoding written apart from the C code) and a log cut short are caught by
# the signed checkpoint written at every CRL signing; the published
# checkpoint's signature checks out with openssl and the CA certificate.  A
# home from before migration 0003 is chained when first opened.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_enrolld.sh"
CHAIN=$HERE/audit_chain.py

H=$T/pki
DB=$H/userca.db
ed_home "$H"
ED_CACERT=$H/public/ca-bundle.pem

# ---- a long history ----
{
	echo username,email
	for i in $(seq -w 1 50); do echo "u$i,u$i@example.test"; done
} >"$T/users.csv"
must "batch of 50 users" uc batch "$T/users.csv" --home "$H" --out "$T/b" --jobs 2
for i in 03 17 42; do
	must "revoke u$i" uc revoke --home "$H" --user "u$i" --reason affiliationChanged --yes
done
for u in tok1 tok2 tok3; do
	new_token "$H" "$u" >/dev/null || fail "token $u"
done
must "token --cancel" uc token --home "$H" --cancel --user tok3
must "crl" uc crl --home "$H"

# One enrollment through the daemon: it writes through the same path.
ed_conf "$T/ed.ini" "$H" "[limits]
rate_limit = 100000"
ed_start main "$T/ed.ini"
TK=$(new_token "$H" webuser webuser@example.test) || fail "token webuser"
new_csr "$T/web" -subj /CN=webuser
hs "/api/v1/enroll/$TK/csr" -H 'Content-Type: application/pkcs10' --data-binary "@$T/web.csr"
expect_http "daemon: POST csr" 200
ed_stop main
check_eq "daemon: its issuance is an audit row by enrolld" \
    "$(sqlite3 "$DB" "select count(*) > 0 from audit where actor = 'enrolld' and subject = 'webuser'")" 1
must "revoke webuser after the daemon" uc revoke --home "$H" --user webuser --yes

ROWS=$(sqlite3 "$DB" "select count(*) from audit")
check_cond "a long history ($ROWS rows)" "[[ $ROWS -gt 60 ]]"
must "log --verify on the whole history" uc log --home "$H" --verify
check_stdout "...says ok with the row count" "^ok: $ROWS rows"
check_eq "no row without a hash" "$(sqlite3 "$DB" "select count(*) from audit where hash is null or length(hash) != 64")" 0
check_eq "row n's prev_hash is row n-1's hash" "$(sqlite3 "$DB" "select count(*) from audit a join audit b on b.id = a.id - 1 where a.prev_hash is not b.hash")" 0
run "$PY" "$CHAIN" check "$DB"
check_eq "the stored hashes are the documented encoding (independent python)" "$RC" 0
check_eq "one checkpoint per CRL signed" "$(sqlite3 "$DB" "select count(*) from audit_checkpoints")" \
    "$(sqlite3 "$DB" "select count(*) from crls")"

# The published checkpoint: the newest one, signed by the issuing CA.
CP=$H/public/audit-checkpoint.json
check_file "public/audit-checkpoint.json is published" "$CP"
jq() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$@"; }
check_eq "checkpoint: rows = the log's rows at the last CRL" "$(jq "$CP" rows)" \
    "$(sqlite3 "$DB" "select rows from audit_checkpoints order by id desc limit 1")"
check_eq "checkpoint: head_hash is that row's hash" "$(jq "$CP" head_hash)" \
    "$(sqlite3 "$DB" "select hash from audit where id = $(jq "$CP" head_id)")"
printf 'userca-audit-checkpoint-v1\nissuer_ski=%s\ncrl_number=%s\nat=%s\nrows=%s\nhead_id=%s\nhead_hash=%s\n' \
    "$(jq "$CP" issuer_ski)" "$(jq "$CP" crl_number)" "$(jq "$CP" at)" "$(jq "$CP" rows)" \
    "$(jq "$CP" head_id)" "$(jq "$CP" head_hash)" >"$T/cp.msg"
jq "$CP" signature | xxd -r -p >"$T/cp.sig"
openssl x509 -in "$H/public/ca-bundle.pem" -noout -pubkey >"$T/iss.pub"
run openssl dgst -sha256 -verify "$T/iss.pub" -signature "$T/cp.sig" "$T/cp.msg"
check_eq "checkpoint signature verifies with openssl and the issuing CA certificate" "$RC" 0

# log: the listing and its filters.
must "log --user u17 --json" uc log --home "$H" --user u17 --json
check_eq "log --user u17: issue and revoke (by serial) rows" \
    "$("$PY" -c 'import json,sys; print(" ".join(r["action"] for r in json.load(open(sys.argv[1]))))' "$OUT")" \
    "issue revoke"
must "log --since tomorrow" uc log --home "$H" --since "$(date -u -d tomorrow +%Y-%m-%d)" --json
check_eq "log --since a future date: nothing" "$(tr -d ' \n' <"$OUT")" "[]"
must "log --since 1d" uc log --home "$H" --since 1d
check_eq "log --since 1d: header + every row" "$(wc -l <"$OUT")" $((ROWS + 1))
expect_rc 2 "log --since garbage: usage error" uc log --home "$H" --since yesterday-ish
check_stderr "...names the flag" "--since 'yesterday-ish'"

# ---- tampering, each on its own copy of the home ----
copy() { rm -rf "$T/$1"; cp -a "$H" "$T/$1"; printf '%s\n' "$T/$1"; }
MID=$(sqlite3 "$DB" "select id from audit where action = 'revoke' limit 1")

X=$(copy edited)
sqlite3 "$X/userca.db" "update audit set detail = 'unspecified' where id = $MID"
expect_rc 1 "edited row: log --verify exit 1" uc log --home "$X" --verify
check_stderr "...names row $MID as edited" "row $MID \\(.*\\): its contents do not match its hash"

X=$(copy edited_actor)
sqlite3 "$X/userca.db" "update audit set actor = 'enrolld' where id = 5"
expect_rc 1 "row with another actor: exit 1" uc log --home "$X" --verify
check_stderr "...names row 5" "row 5 "

X=$(copy deleted)
sqlite3 "$X/userca.db" "delete from audit where id = $MID"
expect_rc 1 "deleted row: log --verify exit 1" uc log --home "$X" --verify
check_stderr "...names the missing row $MID" "row $MID before it is missing: deleted"

X=$(copy deleted_fixed)
# The attacker also repoints the next row's prev_hash: its own hash breaks.
sqlite3 "$X/userca.db" "delete from audit where id = $MID;
    update audit set prev_hash = (select hash from audit where id = $((MID - 1))) where id = $((MID + 1))"
expect_rc 1 "deleted row, next row repointed: exit 1" uc log --home "$X" --verify
check_stderr "...names the row after it" "row $((MID + 1)) \\(.*\\): its contents do not match"

X=$(copy inserted)
LAST=$(sqlite3 "$DB" "select max(id) from audit")
sqlite3 "$X/userca.db" "insert into audit (id, at, actor, action, subject, detail, prev_hash, hash)
    values ($((LAST + 1)), 1, 'cli', 'issue', 'mallory', 'x',
    (select hash from audit where id = $LAST), '$(printf '%064d' 0)')"
expect_rc 1 "inserted row at the end: exit 1" uc log --home "$X" --verify
check_stderr "...names the inserted row" "row $((LAST + 1)) \\(cli issue mallory\\).*inserted"

X=$(copy inserted_gap)
# Into the hole a deleted row left, with a hash of its own: the row after
# it does not follow it.
sqlite3 "$X/userca.db" "delete from audit where id = $MID;
    insert into audit (id, at, actor, action, subject, detail) values ($MID, 1, 'cli', 'token', 'mallory', NULL)"
expect_rc 1 "row inserted into a gap: exit 1" uc log --home "$X" --verify
check_stderr "...names it" "row $MID \\(cli token mallory\\)"

# ---- the anchors ----
X=$(copy recomputed)
"$PY" "$CHAIN" rewrite "$X/userca.db" "$MID" || fail "audit_chain.py rewrite"
run "$PY" "$CHAIN" check "$X/userca.db"
check_eq "recomputed: the chain itself is consistent again" "$RC" 0
expect_rc 1 "recomputed chain: log --verify exit 1 (signed checkpoint)" uc log --home "$X" --verify
check_stderr "...says the chain was recomputed" "rewritten and the chain recomputed"
check_nogrep "...and no row-level finding (the chain is consistent)" "contents do not match" "$ERR"

X=$(copy recomputed_cp)
# ...and also the checkpoints' head hashes and the published file: the
# signatures no longer verify.
"$PY" "$CHAIN" rewrite "$X/userca.db" "$MID" || fail "audit_chain.py rewrite"
sqlite3 "$X/userca.db" "update audit_checkpoints set head_hash = (select hash from audit where id = head_id)"
"$PY" - "$X/public/audit-checkpoint.json" "$X/userca.db" <<'EOF'
import json, sqlite3, sys
cp = json.load(open(sys.argv[1]))
cp["head_hash"] = sqlite3.connect(sys.argv[2]).execute(
    "select hash from audit where id = ?", (cp["head_id"],)).fetchone()[0]
json.dump(cp, open(sys.argv[1], "w"))
EOF
expect_rc 1 "recomputed chain + checkpoints edited: exit 1" uc log --home "$X" --verify
check_stderr "...the checkpoint signature does not verify" "signature does not verify with the CA certificate"

X=$(copy truncated)
CPROWS=$(jq "$CP" rows)
sqlite3 "$X/userca.db" "delete from audit where id > (select id from audit order by id limit 1 offset $((CPROWS - 3)))"
expect_rc 1 "last rows deleted (truncated): exit 1" uc log --home "$X" --verify
check_stderr "...names the truncation" "but the log has $((CPROWS - 2)) rows: rows after row [0-9]+ were deleted \\(truncated\\)"

X=$(copy truncated_cps)
# Truncated, and every checkpoint row deleted: the published copy remains.
sqlite3 "$X/userca.db" "delete from audit where id > (select id from audit order by id limit 1 offset $((CPROWS - 3)));
    delete from audit_checkpoints"
expect_rc 1 "truncated + checkpoints deleted: exit 1 (public/audit-checkpoint.json)" uc log --home "$X" --verify
check_stderr "...from the published checkpoint" "public/audit-checkpoint.json .*truncated"
cp "$CP" "$T/webcopy.json"
rm -f "$X/public/audit-checkpoint.json"
expect_rc 1 "...and the published file gone: the missing anchors are a finding" uc log --home "$X" --verify
check_stderr "...says so" "no signed checkpoint is left"
expect_rc 1 "...--checkpoint with the web server's copy catches the truncation" \
    uc log --home "$X" --verify --checkpoint "$T/webcopy.json"
check_stderr "...naming that copy" "webcopy.json .*truncated"

# The checks above ran on copies: the real home is untouched.
must "the original home still verifies" uc log --home "$H" --verify --json
check_eq "log --verify --json: ok" "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["ok"])' "$OUT")" True

# ---- a home from before migration 0003 (undoing 0003 to 0008) ----
X=$(copy old)
sqlite3 "$X/userca.db" "drop table audit_checkpoints;
    alter table audit drop column prev_hash; alter table audit drop column hash;
    alter table tokens drop column retry_hash; alter table tokens drop column retry_until;
    alter table tokens drop column retry_used_at;
    drop table reminders; drop index if exists certificates_expiry; alter table tokens drop column renews;
    drop index tokens_user; alter table tokens drop column revoke_old;
    drop table scep_transactions;
    pragma user_version = 2"
rm -f "$X/public/audit-checkpoint.json"
must "old home: log --verify after the migration" uc log --home "$X" --verify
check_eq "old home: every earlier row chained" \
    "$(sqlite3 "$X/userca.db" "select count(*) from audit where hash is null")" 0
check_eq "old home: the chain's start is marked" \
    "$(sqlite3 "$X/userca.db" "select action from audit order by id desc limit 1")" audit-chain
must "old home: crl anchors it" uc crl --home "$X"
must "old home: verifies with a checkpoint" uc log --home "$X" --verify
check_stdout "...covering every row" "the newest covers $((ROWS + 2)) rows"
run "$PY" "$CHAIN" check "$X/userca.db"
check_eq "old home: chained with the documented encoding" "$RC" 0

summary
