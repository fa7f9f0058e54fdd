#!/usr/bin/python3
"""csr_jobs.py MANIFEST OUT [PREFIX] [--est]: the input of enroll_csr.lua.

For every enrollment URL in a `userca batch --tokens` manifest (only users
whose name starts with PREFIX, when given), a fresh EC P-256 key and a CSR
signed by it; writes OUT with one line per token, "<token> <CSR DER in
hex>", and prints how many.  Debian's python3-cryptography; about 0.2 ms a
CSR.
"""
import base64
import csv
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def main():
    args = [a for a in sys.argv[1:] if a != "--est"]
    est = len(args) != len(sys.argv) - 1
    if len(args) not in (2, 3):
        sys.exit("usage: csr_jobs.py MANIFEST OUT [PREFIX] [--est]")
    prefix = args[2] if len(args) == 3 else ""
    n = 0
    with open(args[0], newline="") as f, open(args[1], "w") as out:
        for row in csv.DictReader(f):
            url = row.get("enroll_url") or ""
            if not url or not row["username"].startswith(prefix):
                continue
            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                 row["username"])])
            der = (x509.CertificateSigningRequestBuilder()
                   .subject_name(name).sign(key, hashes.SHA256())
                   .public_bytes(serialization.Encoding.DER))
            tok = url.rsplit("/", 1)[1]
            if est:
                cred = "%s:%s" % (row["username"], tok)
                out.write("%s %s\n" % (base64.b64encode(cred.encode()).decode(),
                                       base64.b64encode(der).decode()))
            else:
                out.write("%s %s\n" % (tok, der.hex()))
            n += 1
    print(n)


main()
