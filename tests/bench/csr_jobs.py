#!/usr/bin/python3
"""csr_jobs.py MANIFEST OUT [PREFIX]: the input of enroll_csr.lua.

For every enrollment URL in a `userca batch --tokens` manifest (only users
whose name starts with PREFIX, when given), a fresh EC P-256 key and a CSR
signed by it; writes OUT with one line per token, "<token> <CSR DER in
hex>", and prints how many.  Debian's python3-cryptography; about 0.2 ms a
CSR.
"""
import csv
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: csr_jobs.py MANIFEST OUT [PREFIX]")
    prefix = sys.argv[3] if len(sys.argv) == 4 else ""
    n = 0
    with open(sys.argv[1], newline="") as f, open(sys.argv[2], "w") as out:
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
            out.write("%s %s\n" % (url.rsplit("/", 1)[1], der.hex()))
            n += 1
    print(n)


main()
