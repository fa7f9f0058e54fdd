#!/usr/bin/python3
"""ocsp_reqs.py DB ISSUER_CRT N POST_OUT GET_OUT INDEX_OUT: OCSP requests
and an OpenSSL index for scripts/bench http.

From a CA home's database (certificates issued by ISSUER_CRT, that is every
'user' and 'server' row whose issuer_ski is its key id):
  POST_OUT   N lines, each an OCSP request (DER in hex) with a fresh
             16-byte nonce, SHA-1 CertID (what `openssl ocsp` sends), for
             N certificates spread over the table (valid and revoked alike,
             cycled when there are fewer than N)
  GET_OUT    one line: a request without a nonce for the first valid
             certificate, base64, URL-encoded (RFC 6960 appendix A), then
             its DER in hex on a second line
  INDEX_OUT  the same certificates as an `openssl ca`/`openssl ocsp -index`
             index.txt (V/R, expiry, revocation time and reason, serial)
Prints "certs=C valid=V revoked=R".  Debian's python3-cryptography.
"""
import base64
import datetime
import os
import sqlite3
import sys
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

REASONS = {0: "unspecified", 1: "keyCompromise", 2: "CACompromise",
           3: "affiliationChanged", 4: "superseded",
           5: "cessationOfOperation", 6: "certificateHold",
           8: "removeFromCRL", 9: "privilegeWithdrawn",
           10: "AACompromise"}


def utc(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc) \
        .strftime("%y%m%d%H%M%SZ")


def request(cert, issuer, nonce):
    b = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
    if nonce:
        b = b.add_extension(x509.OCSPNonce(os.urandom(16)), critical=False)
    return b.build().public_bytes(serialization.Encoding.DER)


def main():
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    db, issuer_path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(issuer_path, "rb") as f:
        issuer = x509.load_pem_x509_certificate(f.read())
    ski = issuer.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier).value.digest.hex().upper()
    con = sqlite3.connect(db)
    rows = con.execute(
        "select serial, subject, not_after, status, revoked_at, reason, der "
        "from certificates where kind in ('user', 'server') "
        "and upper(replace(issuer_ski, ':', '')) = ? order by id",
        (ski,)).fetchall()
    if not rows:
        sys.exit("ocsp_reqs.py: no certificate of %s in %s" % (issuer_path, db))
    valid = sum(1 for r in rows if r[3] == "valid")
    with open(sys.argv[6], "w") as f:
        for serial, subject, not_after, status, rev_at, reason, _ in rows:
            s = serial.upper().replace(":", "")
            while len(s) > 2 and s.startswith("00"):
                s = s[2:]
            if len(s) % 2:
                s = "0" + s
            subj = "/" + subject.replace(",", "/") if subject else "/"
            if status == "revoked":
                rev = utc(rev_at)
                if reason in REASONS:
                    rev += "," + REASONS[reason]
                f.write("R\t%s\t%s\t%s\tunknown\t%s\n"
                        % (utc(not_after), rev, s, subj))
            else:
                f.write("V\t%s\t\t%s\tunknown\t%s\n" % (utc(not_after), s, subj))
    step = max(1, len(rows) // n)
    with open(sys.argv[4], "w") as f:
        for i in range(n):
            der = rows[(i * step) % len(rows)][6]
            cert = x509.load_der_x509_certificate(der)
            f.write(request(cert, issuer, True).hex() + "\n")
    first = next(r for r in rows if r[3] == "valid")
    der = request(x509.load_der_x509_certificate(first[6]), issuer, False)
    with open(sys.argv[5], "w") as f:
        f.write(urllib.parse.quote(base64.b64encode(der).decode(), safe="")
                + "\n" + der.hex() + "\n")
    print("certs=%d valid=%d revoked=%d" % (len(rows), valid, len(rows) - valid))


if __name__ == "__main__":
    main()
