#!/usr/bin/env bash
# Kill `userca batch` with SIGKILL at many points and resume it.  The design
# promises: a crash leaves either nothing of a user or a recorded
# certificate, and re-running the same command resumes and never issues a
# second certificate for a user by accident.
#
#   1. 2,000 users, --jobs 2, killed after 0.05 s, 0.15 s, 0.3 s, then three
#      times at a random moment after the run has committed a group; each
#      kill is followed by a plain re-run that is itself killed at a random
#      moment; then a run to completion.
#   2. the same CSV with --reissue, killed midway, then re-run with --reissue.
#   3. (needs strace) deterministic crash points: an 8-user batch killed on
#      entry to the Nth fsync / fdatasync / syncfs / rename / renameat of the
#      main thread, for a first issuance and for --reissue, then resumed.
#      These hit the windows timed kills only hit by luck: bundles written
#      but not journaled, journaled but not committed, committed but not
#      moved into place, CRL not yet published, manifest half written.
#
# After every kill: PRAGMA integrity_check is ok; no user has two valid
# certificates; every OUT/<user>.p12 opens with a password from the journal
# and holds a committed certificate of that user, valid (or, killed between
# a --reissue commit and the rename, superseded with its replacement waiting
# in .partial); if the journal records the run as finished, manifest.csv is
# up to date.  After every completed run: every CSV user has exactly one
# valid certificate and no more certificates were made than asked for (2,000;
# 4,000 after --reissue, the old ones all revoked as superseded); every
# revoked certificate is on the published CRL; manifest.csv lists every user
# once and each listed .p12 opens with the listed password and holds the
# listed serial; OUT/.partial is empty; no temporary file is left in OUT.
# SEED=N reproduces the random delays.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BASE_URL=http://127.0.0.1:1
H=$T/pki
ca_init "$H" --intermediate --profile modern
SEED=${SEED:-$(date +%s)}
RANDOM=$SEED
echo "INFO: SEED=$SEED"

NUSERS=2000
"$PY" -c '
import sys
n = int(sys.argv[1])
print("username,email,name,p12_format")
for i in range(1, n + 1):
    print("k%04d,k%04d@example.com,User %d,%s" % (i, i, i, "legacy" if i % 10 == 0 else ""))
' "$NUSERS" >"$T/users.csv"

# ---- the checks (python3 + python3-cryptography + the sqlite3 CLI) ------------------------------
cat >"$T/inv.py" <<'EOF'
"""
inv.py check MODE HOME OUT CSV [TOTAL [OLD_SERIALS_FILE]]
    MODE kill: the state after a SIGKILL.  MODE final: after a run that
    completed; TOTAL is how many certificates the CSV's users must have in
    all; with OLD_SERIALS_FILE, every one of those must be revoked as
    superseded and none still valid.  Prints one summary line, then what is
    wrong (exit 1).
inv.py crash KIND USERCA CSV NUSERS PRISTINE_HOME PRISTINE_OUT|- OLD|- [ARGS...]
    The deterministic crash points; prints PASS:/FAIL:/INFO: lines.
"""
import csv, json, os, re, shutil, sqlite3, stat, subprocess, sys
from concurrent.futures import ProcessPoolExecutor
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12


def serial_of(args):
    """(serial hex, password) of the first password that opens the file."""
    path, passwords = args
    data = open(path, "rb").read()
    for pw in passwords:
        try:
            k, c, extra = pkcs12.load_key_and_certificates(data, pw.encode())
        except Exception:
            continue
        return ("%X" % c.serial_number, pw)
    return (None, None)


def integrity(home):
    r = subprocess.run(["sqlite3", os.path.join(home, "userca.db"), "PRAGMA integrity_check"],
                       capture_output=True, text=True)
    return (r.stdout + r.stderr).strip()


def journal(out):
    """users -> [(serial, password)], and the kinds of run markers, in order."""
    lines, marks = {}, []
    path = os.path.join(out, ".userca-batch.journal")
    if os.path.exists(path):
        text = open(path, encoding="utf-8", errors="replace").read()
        # a line cut short by the kill was never acted on
        for r in csv.reader(text[: text.rfind("\n") + 1].splitlines()):
            if len(r) >= 7 and r[0] == "I":
                lines.setdefault(r[1], []).append((r[3].lstrip("0"), r[6]))
            elif len(r) == 2 and r[0] in ("B", "E"):
                marks.append(r[0])
    return lines, marks


def check(mode, home, out, csvfile, total=None, old=None, cache=None):
    errs, notes = [], []
    cache = {} if cache is None else cache
    db = sqlite3.connect(os.path.join(home, "userca.db"))
    users = [r["username"] for r in csv.DictReader(open(csvfile, newline=""))]
    # serials compared without leading zeros ("%X" of the certificate's)
    valid = {s.lstrip("0"): u for s, u in db.execute(
        "select c.serial, u.username from certificates c join users u on u.id = c.user_id "
        "where c.status = 'valid' and c.kind = 'user'")}
    for u, n in db.execute("select u.username, count(*) from certificates c join users u on u.id = c.user_id "
                           "where c.status = 'valid' group by u.id having count(*) > 1"):
        errs.append("%s has %d valid certificates" % (u, n))
    jl, marks = journal(out)
    # A finished run removes its journal; its passwords are in the manifest.
    mpath = os.path.join(out, "manifest.csv")
    if os.path.exists(mpath):
        for r in list(csv.reader(open(mpath, newline="")))[1:]:
            if len(r) >= 6 and r[5]:
                jl.setdefault(r[0], []).insert(0, (r[2].lstrip("0"), r[5]))

    # Every bundle with a final name.
    todo, keys = [], {}
    names = sorted(os.listdir(out)) if os.path.isdir(out) else []
    for name in names:
        path = os.path.join(out, name)
        if name.endswith(".p12"):
            st = os.stat(path)
            if stat.S_IMODE(st.st_mode) != 0o600:
                errs.append("%s: mode %o" % (name, stat.S_IMODE(st.st_mode)))
            key = "%s:%d:%d:%d" % (name, st.st_ino, st.st_size, st.st_mtime_ns)
            keys[name] = key
            if key not in cache:
                pws = [pw for s, pw in reversed(jl.get(name[:-4], []))]
                todo.append((key, (path, pws)))
        elif name in ("manifest.csv", ".userca-batch.journal", ".partial", ".userca.lock"):
            continue
        elif ".tmp" in name:
            (errs if mode == "final" else notes).append("temporary file left in OUT: %s" % name)
        else:
            errs.append("unexpected file in OUT: %s" % name)
    if len(todo) > 40:
        with ProcessPoolExecutor(2) as ex:
            for (key, _), res in zip(todo, ex.map(serial_of, [a for _, a in todo], chunksize=16)):
                cache[key] = tuple(res)
    else:
        for key, a in todo:
            cache[key] = serial_of(a)

    partial = os.path.join(out, ".partial")
    pfiles = sorted(os.listdir(partial)) if os.path.isdir(partial) else []
    for p in pfiles:
        if not re.fullmatch(r"[A-Za-z0-9._@-]+\.[0-9A-F]+\.p12", p):
            errs.append(".partial/%s: unexpected name" % p)
    opened, nsuper = {}, 0
    for name, key in keys.items():
        serial, pw = cache[key]
        user = name[:-4]
        if serial is None:
            errs.append("%s: no password in the journal opens it" % name)
            continue
        opened[user] = (serial, pw)
        if valid.get(serial) == user:
            continue
        st = db.execute("select c.status, u.username, c.reason from certificates c left join users u "
                        "on u.id = c.user_id where ltrim(c.serial, '0') = ?", (serial,)).fetchone()
        # Killed between a --reissue commit and the rename: the old bundle
        # is still in place, superseded; the new one waits in .partial.
        newer = {s for s, u in valid.items() if u == user}
        waiting = [p for p in pfiles if p.startswith(user + ".") and p[len(user) + 1:-4].lstrip("0") in newer]
        if mode == "kill" and st is not None and st[0] == "revoked" and st[1] == user and st[2] == 4 and waiting:
            nsuper += 1
        else:
            errs.append("%s holds serial %s, which is %s" % (name, serial,
                        "not in userca.db (never committed)" if st is None else
                        "%s (reason %s), user %s" % (st[0], st[2], st[1])))
    if nsuper:
        notes.append("%d superseded bundles whose replacement waits in .partial" % nsuper)

    def manifest_rows():
        rows = list(csv.reader(open(os.path.join(out, "manifest.csv"), newline=""), strict=True))
        return rows[1:]

    # A run the journal records as finished has written its manifest.
    if mode == "kill" and marks and marks[-1] == "E":
        mrows = {}
        if os.path.exists(os.path.join(out, "manifest.csv")):
            mrows = {r[0]: r[2].lstrip("0") for r in manifest_rows()}
        stale = ["%s (manifest %s, valid %s)" % (u, mrows.get(u), s) for s, u in valid.items()
                 if s in {x for x, _ in jl.get(u, [])} and mrows.get(u) != s]
        if stale:
            errs.append("the journal says the run finished, but manifest.csv does not list %d users' "
                        "current certificates: %s" % (len(stale), ", ".join(sorted(stale)[:2])))

    if mode == "final":
        crl = x509.load_der_x509_crl(open(os.path.join(home, "public", "crl.der"), "rb").read())
        on_crl = {"%X" % r.serial_number for r in crl}
        missing = [s for (s,) in db.execute("select serial from certificates where status = 'revoked' "
                                            "and kind = 'user'") if s.lstrip("0") not in on_crl]
        if missing:
            errs.append("%d revoked certificates are not on the published CRL (public/crl.der): %s" % (
                len(missing), ", ".join(missing[:2])))
        if pfiles:
            errs.append(".partial is not empty: %s" % pfiles[:3])
        per_user = {u: (nv, na) for u, nv, na in db.execute(
            "select u.username, sum(c.status = 'valid'), count(c.id) from users u "
            "left join certificates c on c.user_id = u.id group by u.id")}
        bad = [u for u in users if per_user.get(u, (0, 0))[0] != 1]
        if bad:
            errs.append("%d users without exactly one valid certificate: %s" % (len(bad), bad[:5]))
        n_all = sum(per_user.get(u, (0, 0))[1] for u in users)
        if total is not None and n_all != total:
            errs.append("%d certificates for the CSV's users, want %d" % (n_all, total))
        body = manifest_rows()
        listed = [r[0] for r in body]
        if sorted(listed) != sorted(users):
            dup = sorted({u for u in listed if listed.count(u) > 1})
            errs.append("manifest lists %d rows for %d users (twice: %s; missing: %s)" % (
                len(listed), len(users), dup[:5], sorted(set(users) - set(listed))[:5]))
        for r in body:
            u, serial, p12, pw = r[0], r[2].lstrip("0"), r[4], r[5]
            if p12 != u + ".p12":
                errs.append("%s: p12_file %r" % (u, p12))
                continue
            got = opened.get(u)
            if got is None:
                errs.append("%s: %s missing" % (u, p12))
            elif got != (serial, pw):
                s2, _ = serial_of((os.path.join(out, p12), [pw]))
                if s2 != serial:
                    errs.append("%s: %s does not open with the listed password to the listed serial %s "
                                "(it holds %s)" % (u, p12, serial, got[0]))
            if valid.get(serial) != u:
                errs.append("%s: listed serial %s is not the user's valid certificate" % (u, serial))
        if old is not None:
            still = [s for s in old if s.lstrip("0") in valid]
            if still:
                errs.append("%d users were not reissued: their old certificate is still the valid one (%s)" % (
                    len(still), ", ".join("%s %s" % (valid[s.lstrip("0")], s) for s in still[:2])))
            nsup = sum(db.execute("select count(*) from certificates where status = 'revoked' and reason = 4 "
                                  "and ltrim(serial, '0') = ?", (s.lstrip("0"),)).fetchone()[0] for s in old)
            if nsup != len(old) - len(still):
                errs.append("%d old certificates revoked as superseded, want %d" % (nsup, len(old) - len(still)))
    db.close()
    summary = "%d bundles in OUT (%d opened now), %d in .partial, %d users in the journal%s" % (
        len(keys), len(todo), len(pfiles), len(jl), "; " + "; ".join(notes) if notes else "")
    return summary, errs


def cmd_check(argv):
    mode, home, out, csvfile = argv[:4]
    total = int(argv[4]) if len(argv) > 4 else None
    old = open(argv[5]).read().split() if len(argv) > 5 else None
    cache_path = os.path.join(os.path.dirname(os.path.abspath(out)), "inv-cache.json")
    cache = {k: tuple(v) for k, v in json.load(open(cache_path)).items()} if os.path.exists(cache_path) else {}
    summary, errs = check(mode, home, out, csvfile, total, old, cache)
    json.dump(cache, open(cache_path, "w"))
    print("%s: %s" % (mode, summary))
    if errs:
        print("\n".join(errs[:20]))
        sys.exit(1)


def cmd_crash(argv):
    kind, userca, csvfile, nusers, p_home, p_out, oldfile = argv[:7]
    extra = argv[7:]
    nusers = int(nusers)
    work = os.path.dirname(os.path.abspath(p_home))
    h, o = os.path.join(work, "cp-home"), os.path.join(work, "cp-out")
    batch = [userca, "batch", csvfile, "--home", h, "--out", o, "--jobs", "2"] + extra
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def reset():
        for d in (h, o):
            shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(p_home, h, symlinks=True)
        if p_out != "-":
            shutil.copytree(p_out, o, symlinks=True)

    def nmarks(out):
        return journal(out)[1].count("E") if os.path.isdir(out) else 0

    def report(tag, ok, detail=""):
        print("%s: %s%s" % ("PASS" if ok else "FAIL", tag, "" if ok else "\n    | " + detail.replace("\n", "\n    | ")))
        sys.stdout.flush()

    # How often the main thread makes each call in an uninterrupted run.
    reset()
    calls = os.path.join(work, "calls.txt")
    subprocess.run(["strace", "-o", calls, "-e", "trace=syncfs,fsync,fdatasync,rename,renameat"] + batch, **quiet)
    text = open(calls).read()
    points = []
    for sc in ("syncfs", "fsync", "fdatasync", "renameat", "rename"):
        count = len(re.findall(r"^%s\(" % sc, text, re.M))
        for n in range(1, count + 1):
            if sc == "renameat" and n not in (1, count):
                continue        # one per bundle: the first and the last
            if count > 10 and 6 < n <= count - 3 and n % 4 != 0:
                continue        # the CRL publication repeats itself: sample it
            points.append((sc, n, count))
    e0 = nmarks(p_out) if p_out != "-" else 0
    old0 = open(oldfile).read().split() if oldfile != "-" else None
    reached = 0
    for sc, n, count in points:
        tag = "%s: killed at %s #%d/%d" % (kind, sc, n, count)
        reset()
        mpath = os.path.join(o, "manifest.csv")
        m0 = os.stat(mpath).st_mtime_ns if os.path.exists(mpath) else None
        rc = subprocess.run(["strace", "-o", "/dev/null", "-e", "trace=" + sc,
                             "-e", "inject=%s:signal=KILL:when=%d" % (sc, n)] + batch, **quiet).returncode
        if rc not in (-9, 137):
            report(tag, False, "the run was not killed (exit %d)" % rc)
            continue
        reached += 1
        ic = integrity(h)
        report(tag + ": PRAGMA integrity_check", ic == "ok", ic)
        summary, errs = check("kill", h, o, csvfile)
        report("%s: %s" % (tag, summary), not errs, "\n".join(errs))
        # Did the killed run record itself as finished?  Then the re-run is
        # a new run: with --reissue, a second reissue of everyone.
        # A finished run also wipes and removes its journal (it holds the
        # passwords): gone, or zero-filled when killed before the unlink.
        jpath = os.path.join(o, ".userca-batch.journal")
        m1 = os.stat(mpath).st_mtime_ns if os.path.exists(mpath) else None
        wiped = (not os.path.exists(jpath) and m1 != m0) or (os.path.exists(jpath) and
            os.path.getsize(jpath) > 0 and not open(jpath, "rb").read().strip(b"\0"))
        ended = nmarks(o) > e0 or (os.path.isdir(o) and wiped)
        total, old = nusers, None
        if old0 is not None:
            if ended:
                total = 3 * nusers
                db = sqlite3.connect(os.path.join(h, "userca.db"))
                old = [s for (s,) in db.execute("select serial from certificates where kind = 'user' "
                                                "and status = 'valid'")]
                db.close()
            else:
                total, old = 2 * nusers, old0
        r = subprocess.run(batch, capture_output=True, text=True)
        tag = "%s: %s #%d/%d, resumed%s" % (kind, sc, n, count, " (the killed run had finished)" if ended else "")
        report(tag + ": the re-run exits 0", r.returncode == 0, r.stdout + r.stderr)
        ic = integrity(h)
        report(tag + ": PRAGMA integrity_check", ic == "ok", ic)
        summary, errs = check("final", h, o, csvfile, total, old)
        report("%s: %s" % (tag, summary), not errs, "\n".join(errs))
    print("INFO: %s: %d crash points" % (kind, reached))
    report("%s: at least 12 crash points reached (%d)" % (kind, reached), reached >= 12)


if __name__ == "__main__":
    {"check": cmd_check, "crash": cmd_crash}[sys.argv[1]](sys.argv[2:])
EOF

# inv MODE TAG HOME OUT CSV [TOTAL [OLD]]: integrity_check + inv.py check
inv() {
	local mode=$1 tag=$2 h=$3 o=$4; shift 4
	check_eq "$tag: PRAGMA integrity_check" "$(sqlite3 "$h/userca.db" 'PRAGMA integrity_check' 2>&1 || true)" ok
	run "$PY" "$T/inv.py" check "$mode" "$h" "$o" "$@"
	if [[ $RC -eq 0 ]]; then pass "$tag: $(head -1 "$OUT")"; else bad "$tag: invariants"; _show; fi
}

# relay CMD...: turn the PASS:/FAIL: lines CMD prints into results here.
relay() {
	local line
	while IFS= read -r line; do
		case $line in
		PASS:\ *) pass "${line#PASS: }" ;;
		FAIL:\ *) bad "${line#FAIL: }" ;;
		EXIT:\ 0) ;;
		EXIT:\ *) bad "$* exited with ${line#EXIT: }" ;;
		*) printf '%s\n' "$line" ;;
		esac
	done < <("$@" 2>&1; echo "EXIT: $?")
}

# committed: certificates of users in userca.db (read as a WAL reader)
committed() {
	sqlite3 "$H/userca.db" "select count(*) from certificates where kind = 'user'" 2>/dev/null || echo 0
}

# start_kill DELAY|+DELAY ARGS...: run `userca batch ARGS` in the background
# and SIGKILL it DELAY seconds after the start or, with +DELAY, DELAY seconds
# after it committed its first group (so it lands in a run that made
# progress, at a random phase of the next group).  KILLED=1 when the batch
# was still running.
start_kill() {
	local d=$1 pid before i; shift
	before=$(committed)
	"$USERCA" batch "$@" >"$T/bg.out" 2>"$T/bg.err" &
	pid=$!
	if [[ $d == +* ]]; then
		for i in $(seq 1 1500); do
			[[ $(committed) -gt $before ]] && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.02
		done
		d=${d#+}
	fi
	sleep "$d"
	KILLED=0
	if kill -9 "$pid" 2>/dev/null; then KILLED=1; fi
	wait "$pid" 2>/dev/null || true
}

# rnd LO HI: a random delay in seconds, LO..HI hundredths
rnd() { local c=$(($1 + RANDOM % ($2 - $1 + 1))); printf '%d.%02d' $((c / 100)) $((c % 100)); }

# ---- 1. timed kills -----------------------------------------------------------------------------
O=$T/out
ARGS=("$T/users.csv" --home "$H" --out "$O" --jobs 2)
delays=(0.05 0.15 0.3 "+$(rnd 0 25)" "+$(rnd 0 25)" "+$(rnd 0 25)")
landed=0
for i in "${!delays[@]}"; do
	d=${delays[$i]}
	r=$(rnd 5 50)
	start_kill "$d" "${ARGS[@]}"
	landed=$((landed + KILLED))
	inv kill "kill $((i + 1)) at ${d}s (killed=$KILLED, $(committed) committed)" "$H" "$O" "$T/users.csv"
	start_kill "$r" "${ARGS[@]}"
	landed=$((landed + KILLED))
	inv kill "kill $((i + 1)), re-run killed at ${r}s (killed=$KILLED, $(committed) committed)" "$H" "$O" "$T/users.csv"
done
check_cond "at least 6 of the $((2 * ${#delays[@]})) kills landed while the batch was running ($landed)" "[[ $landed -ge 6 ]]"
done_before=$(committed)
check_cond "the killed runs committed some users ($done_before of $NUSERS)" "[[ $done_before -gt 0 ]]"

expect_rc 0 "run to completion" uc batch "${ARGS[@]}"
if [[ $(cat "$OUT") =~ ([0-9]+)\ rows:\ ([0-9]+)\ issued,\ ([0-9]+)\ skipped.*\ ([0-9]+)\ failed ]]; then
	check_eq "run to completion: rows, issued + skipped, skipped (= committed by the killed runs), failed" \
	    "${BASH_REMATCH[1]} $((BASH_REMATCH[2] + BASH_REMATCH[3])) ${BASH_REMATCH[3]} ${BASH_REMATCH[4]}" \
	    "$NUSERS $NUSERS $done_before 0"
else
	bad "run to completion: no summary line: $(cat "$OUT")"
fi
inv final "after the complete run" "$H" "$O" "$T/users.csv" "$NUSERS"
cp "$O/manifest.csv" "$T/manifest.1"
expect_rc 0 "one more run" uc batch "${ARGS[@]}"
check_stdout "one more run: nobody issued" "rows: 0 issued, $NUSERS skipped"
check_same "one more run: manifest.csv unchanged" "$T/manifest.1" "$O/manifest.csv"
echo "INFO: timed kills done at ${SECONDS}s"

# ---- 2. --reissue, killed midway ------------------------------------------------------------
sqlite3 "$H/userca.db" "select serial from certificates where kind = 'user' and status = 'valid'" >"$T/old.serials"
revoked() { sqlite3 "$H/userca.db" "select count(*) from certificates where kind = 'user' and status = 'revoked'" 2>/dev/null || echo 0; }
"$USERCA" batch "${ARGS[@]}" --reissue >"$T/bg.out" 2>"$T/bg.err" &
pid=$!
for i in $(seq 1 1500); do	# until at least 150 are reissued
	[[ $(revoked) -ge 150 ]] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.02
done
sleep "$(rnd 0 30)"
KILLED=0
if kill -9 "$pid" 2>/dev/null; then KILLED=1; fi
wait "$pid" 2>/dev/null || true
mid=$(revoked)
check_cond "--reissue killed midway ($mid of $NUSERS reissued)" "[[ $KILLED -eq 1 && $mid -gt 0 && $mid -lt $NUSERS ]]"
inv kill "--reissue killed midway" "$H" "$O" "$T/users.csv"
expect_rc 0 "--reissue re-run to completion" uc batch "${ARGS[@]}" --reissue
inv final "after --reissue resumed" "$H" "$O" "$T/users.csv" $((2 * NUSERS)) "$T/old.serials"
echo "INFO: --reissue done at ${SECONDS}s"

# ---- 3. deterministic crash points (strace) -----------------------------------------------------
if ! command -v strace >/dev/null || ! strace -o /dev/null true 2>/dev/null; then
	echo "SKIP: strace missing or not permitted here: no deterministic crash points"
	summary
fi
NSMALL=8
{
	echo 'username,email,p12_format'
	for i in $(seq 1 $NSMALL); do echo "s$i,s$i@example.com,$([[ $i -eq 3 ]] && echo legacy)"; done
} >"$T/small.csv"
HS=$T/small-home
ca_init "$HS" --intermediate --profile modern
cp -a "$HS" "$T/pristine-fresh"
must "small batch: first issuance (the starting point of the --reissue crash points)" \
    uc batch "$T/small.csv" --home "$HS" --out "$T/small-out" --jobs 2
cp -a "$HS" "$T/pristine-issued"
cp -a "$T/small-out" "$T/pristine-issued-out"
sqlite3 "$HS/userca.db" "select serial from certificates where kind = 'user' and status = 'valid'" >"$T/small-old.serials"

relay "$PY" "$T/inv.py" crash fresh "$USERCA" "$T/small.csv" "$NSMALL" "$T/pristine-fresh" - -
echo "INFO: fresh crash points done at ${SECONDS}s"
relay "$PY" "$T/inv.py" crash reissue "$USERCA" "$T/small.csv" "$NSMALL" \
    "$T/pristine-issued" "$T/pristine-issued-out" "$T/small-old.serials" --reissue
echo "INFO: --reissue crash points done at ${SECONDS}s"

summary
