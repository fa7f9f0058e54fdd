#!/usr/bin/python3
"""The audit chain as README describes it, written apart from the C code.

audit_chain.py check DB        the stored hashes are the documented ones
audit_chain.py rewrite DB ID   edit row ID's detail and recompute the
                               hashes of ID and every later row, as an
                               attacker with write access to the database
                               (but not the CA key) would
"""
import hashlib
import sqlite3
import sys


def field(v):
    if v is None:
        return b"\x00"
    b = v.encode() if isinstance(v, str) else v
    return b"\x01" + len(b).to_bytes(4, "big") + b


def row_hash(rid, at, actor, action, subject, detail, prev):
    parts = ["userca-audit-v1", str(rid), str(at), actor, action, subject,
             detail, prev]
    return hashlib.sha256(b"".join(field(p) for p in parts)).hexdigest()


def main():
    cmd, db = sys.argv[1], sys.argv[2]
    con = sqlite3.connect(db)
    rows = con.execute("SELECT id, at, actor, action, subject, detail, "
                       "prev_hash, hash FROM audit ORDER BY id").fetchall()
    if cmd == "check":
        prev = None
        for r in rows:
            want = row_hash(*r[:6], prev)
            if r[6] != prev or r[7] != want:
                print("row %d differs" % r[0])
                return 1
            prev = r[7]
        print("%d rows match" % len(rows))
        return 0
    target = int(sys.argv[3])
    con.execute("UPDATE audit SET detail = 'rewritten' WHERE id = ?",
                (target,))
    prev = None
    for r in con.execute("SELECT id, at, actor, action, subject, detail "
                         "FROM audit ORDER BY id").fetchall():
        if r[0] >= target:
            h = row_hash(*r, prev)
            con.execute("UPDATE audit SET prev_hash = ?, hash = ? "
                        "WHERE id = ?", (prev, h, r[0]))
        else:
            h = con.execute("SELECT hash FROM audit WHERE id = ?",
                            (r[0],)).fetchone()[0]
        prev = h
    con.commit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
