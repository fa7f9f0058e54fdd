#!/usr/bin/env python3
"""A burst of enrollments against userca-enrolld while its network child is
killed with SIGKILL, then an account of every token (it_privsep_restart).

  privsep_burst.py BASE CAFILE DB TOKENS MONITOR_PID KILL_AFTER OUT

TOKENS: lines "csr TOKEN" or "p12 TOKEN".  32 at a time; once KILL_AFTER
answers are in, the child (the monitor's child process) gets SIGKILL and
/healthz is polled until it answers.  Then each token: a 200 must have its
row; a used token must have given its owner the certificate (a 200 with
that serial) or give it now (CSR: the same request again returns the
stored certificate); an unused one must still work.  Writes key=value
lines to OUT.
"""
import concurrent.futures
import http.client
import json
import os
import signal
import sqlite3
import ssl
import sys
import threading
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

BASE, CAFILE, DB, TOKENS, MON, KILL_AFTER, OUT = sys.argv[1:8]
MON = int(MON)
KILL_AFTER = int(KILL_AFTER)
U = urllib.parse.urlsplit(BASE)
CTX = ssl.create_default_context(cafile=CAFILE)


def child_of(pid):
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        return int(d)
            except OSError:
                pass
    return None


def request(method, path, body=None, headers=None, timeout=30):
    c = http.client.HTTPSConnection(U.hostname, U.port, context=CTX,
                                    timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read(), dict(r.getheaders())
    except (OSError, http.client.HTTPException) as e:
        return 0, str(e).encode(), {}
    finally:
        c.close()


def csr_for(tok):
    k = ec.generate_private_key(ec.SECP256R1())
    req = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                        tok[:8])]))
           .sign(k, hashes.SHA256()))
    return req.public_bytes(serialization.Encoding.PEM)


def enroll(kind, tok, csr):
    if kind == "csr":
        st, body, h = request("POST", f"/api/v1/enroll/{tok}/csr", csr,
                              {"Content-Type": "application/pkcs10"})
        serial = h.get("X-Userca-Serial") if st == 200 else None
    else:
        st, body, h = request("POST", f"/api/v1/enroll/{tok}/p12",
                              b"{}", {"Content-Type": "application/json"})
        serial = json.loads(body)["serial"] if st == 200 else None
    return st, serial


def main():
    toks = [line.split() for line in open(TOKENS) if line.strip()]
    csrs = {t: csr_for(t) for k, t in toks if k == "csr"}
    done = [0]
    lock = threading.Lock()
    fired = threading.Event()
    res = {}

    def one(kt):
        kind, tok = kt
        r = enroll(kind, tok, csrs.get(tok))
        with lock:
            res[tok] = r
            done[0] += 1
            if done[0] >= KILL_AFTER:
                fired.set()
        return r

    killed = {}

    def killer():
        fired.wait(120)
        pid = child_of(MON)
        killed["pid"] = pid
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        with lock:
            killed["at_answers"] = done[0]
        # How long until the daemon answers again (a new child).
        while time.monotonic() - t0 < 10:
            st, _, _ = request("GET", "/healthz", timeout=1)
            if st == 200:
                break
            time.sleep(0.01)
        killed["recovered_ms"] = int((time.monotonic() - t0) * 1000)
        killed["new_pid"] = child_of(MON)

    kt = threading.Thread(target=killer)
    kt.start()
    with concurrent.futures.ThreadPoolExecutor(32) as ex:
        list(ex.map(one, toks))
    kt.join()
    time.sleep(0.5)	# the monitor undoes what the dead child held

    db = sqlite3.connect(DB)
    hsh = __import__("hashlib").sha256
    out = {"tokens": len(toks), "ok200": 0, "failed": 0, "rows_missing": 0,
           "used_no_cert": 0, "retrieved_again": 0, "unused_now_ok": 0,
           "unused_now_bad": 0, "revoked_cessation": 0,
           "p12_200_revoked": 0}
    for kind, tok in toks:
        st, serial = res[tok]
        h = hsh(tok.encode()).digest()
        row = db.execute("select t.used_at, c.serial, c.status, c.reason "
                         "from tokens t left join certificates c on "
                         "c.id = t.cert_id where t.hash = ?", (h,)).fetchone()
        used, dbserial, status = row[0], row[1], row[2]
        if st == 200:
            out["ok200"] += 1
            r = db.execute("select status, reason from certificates where "
                           "serial = ?", (serial,)).fetchone()
            if r is None:
                out["rows_missing"] += 1
            elif r[0] == "revoked":
                out["p12_200_revoked"] += 1
        else:
            out["failed"] += 1
        if used is not None:
            if st == 200 and serial == dbserial:
                continue
            # Consumed without its owner's 200: the same key again.
            if kind == "csr":
                st2, s2 = enroll(kind, tok, csrs[tok])
                if st2 == 200 and s2 == dbserial:
                    out["retrieved_again"] += 1
                    continue
            out["used_no_cert"] += 1
            print(f"consumed without a certificate: {kind} {tok[:6]}.. "
                  f"answer {st}")
        else:
            st2, _ = enroll(kind, tok, csrs.get(tok))
            out["unused_now_ok" if st2 == 200 else "unused_now_bad"] += 1
    out["revoked_cessation"] = db.execute(
        "select count(*) from certificates where reason = 5").fetchone()[0]
    out.update({k: v for k, v in killed.items()})
    with open(OUT, "w") as f:
        for k, v in out.items():
            f.write(f"{k}={v}\n")


if __name__ == "__main__":
    main()
