#!/usr/bin/python3
"""gen_csr_hostile.py [DIR]: write the hostile CSR corpus (default: next to
this script).

Every request is DER written by hand here, so that its SubjectPublicKeyInfo
can be anything: a point at infinity, a point off the curve, explicit curve
parameters, compressed and hybrid points, RSA keys with absent or junk
parameters, trailing bytes, padded integers, odd exponents.  Signatures are
computed here too (ECDSA and PKCS#1 v1.5 over Python integers; the only
library call is python3-cryptography's scalar multiplication for k*G and
Ed25519 signing), with fixed keys and deterministic nonces: running the
script again writes the same bytes.

Writes, for each case NAME:
  NAME.der         the CSR
  NAME.spki.der    (cases the CA accepts) the SubjectPublicKeyInfo the
                   certificate must carry: named curve, uncompressed point,
                   RSA with NULL parameters
and CASES, one line a case: NAME, "accept" or "refuse", and an extended
regular expression the refusal message must match (case-insensitive).
"""
import hashlib
import os
import random
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

# ---- DER by hand ------------------------------------------------------------


def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        hdr = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        hdr = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + hdr + body


def seq(*items):
    return tlv(0x30, b"".join(items))


def integer(v, pad=0):
    """Minimal two's complement of v >= 0; pad: extra leading zero bytes."""
    b = v.to_bytes(v.bit_length() // 8 + 1, "big")
    return tlv(0x02, b"\x00" * pad + b)


def oid(dotted):
    arcs = [int(a) for a in dotted.split(".")]
    out = bytes([40 * arcs[0] + arcs[1]])
    for a in arcs[2:]:
        enc = [a & 0x7F]
        a >>= 7
        while a:
            enc.insert(0, 0x80 | (a & 0x7F))
            a >>= 7
        out += bytes(enc)
    return tlv(0x06, out)


def bitstring(b):
    return tlv(0x03, b"\x00" + b)


def octets(b):
    return tlv(0x04, b)


NULL = b"\x05\x00"
OID_EC = "1.2.840.10045.2.1"
OID_P256 = "1.2.840.10045.3.1.7"
OID_P384 = "1.3.132.0.34"
OID_RSA = "1.2.840.113549.1.1.1"
OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2"
OID_RSA_SHA256 = "1.2.840.113549.1.1.11"
OID_ED25519 = "1.3.101.112"


def name(cn):
    def rdn(o, v):
        return tlv(0x31, seq(oid(o), tlv(0x0C, v.encode())))
    return seq(rdn("2.5.4.10", "Hostile Test"), rdn("2.5.4.3", cn))


def csr(cn, spki, sigalg, sign):
    """sign(tbs) -> signature bytes; sigalg: AlgorithmIdentifier DER."""
    tbs = seq(integer(0), name(cn), spki, tlv(0xA0, b""))
    return seq(tbs, sigalg, bitstring(sign(tbs)))


# ---- EC ---------------------------------------------------------------------

P256 = dict(
    curve=ec.SECP256R1(), oid=OID_P256, size=32,
    p=0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF,
    a=0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC,
    b=0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
    gx=0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    gy=0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
    n=0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551)


def mul_g(c, k):
    """(x, y) of k*G on curve c."""
    pn = ec.derive_private_key(k, c["curve"]).public_key().public_numbers()
    return pn.x, pn.y


def ec_priv(c, label):
    return int.from_bytes(hashlib.sha256(label.encode()).digest(),
                          "big") % (c["n"] - 1) + 1


def ecdsa_sign(c, d, tbs):
    n = c["n"]
    e = int.from_bytes(hashlib.sha256(tbs).digest(), "big")
    k = int.from_bytes(hashlib.sha256(b"nonce" + d.to_bytes(48, "big") +
                                      tbs).digest(), "big") % (n - 1) + 1
    r = mul_g(c, k)[0] % n
    s = pow(k, -1, n) * (e + r * d) % n
    return seq(integer(r), integer(s))


def ecdsa_forge_infinity(c, tbs):
    """
    A "signature" that verifies for the public key Q = point at infinity:
    verification computes u1*G + u2*Q = u1*G with u1 = e/s, so s = e/k and
    r = x(k*G) pass for any k.  No private key is involved.
    """
    n = c["n"]
    e = int.from_bytes(hashlib.sha256(tbs).digest(), "big") % n
    k = 0x1234567
    r = mul_g(c, k)[0] % n
    s = e * pow(k, -1, n) % n
    return seq(integer(r), integer(s))


def ec_spki(c, point, params=None):
    return seq(seq(oid(OID_EC), params if params is not None else
                   oid(c["oid"])), bitstring(point))


def uncompressed(c, x, y):
    sz = c["size"]
    return b"\x04" + x.to_bytes(sz, "big") + y.to_bytes(sz, "big")


def explicit_params(c):
    sz = c["size"]
    return seq(integer(1), seq(oid("1.2.840.10045.1.1"), integer(c["p"])),
               seq(octets(c["a"].to_bytes(sz, "big")),
                   octets(c["b"].to_bytes(sz, "big"))),
               octets(uncompressed(c, c["gx"], c["gy"])),
               integer(c["n"]), integer(1))


# ---- RSA --------------------------------------------------------------------

def is_probable_prime(v):
    if v < 2:
        return False
    for sp in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if v % sp == 0:
            return v == sp
    d, s = v - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47):
        x = pow(a, d, v)
        if x in (1, v - 1):
            continue
        for _ in range(s - 1):
            x = x * x % v
            if x == v - 1:
                break
        else:
            return False
    return True


def prime(rng, bits, avoid=()):
    while True:
        v = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        if is_probable_prime(v) and all((v - 1) % e != 0 and
                                        _gcd(v - 1, e) == 1 for e in avoid):
            return v


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


DIGESTINFO_SHA256 = bytes.fromhex("3031300d060960864801650304020105000420")


def emsa_pkcs1(tbs, klen):
    t = DIGESTINFO_SHA256 + hashlib.sha256(tbs).digest()
    return b"\x00\x01" + b"\xff" * (klen - len(t) - 3) + b"\x00" + t


def rsa_sign(n, d, tbs):
    klen = (n.bit_length() + 7) // 8
    m = int.from_bytes(emsa_pkcs1(tbs, klen), "big")
    return pow(m, d, n).to_bytes(klen, "big")


def rsa_pub(n, e, pad=0):
    return seq(integer(n, pad), integer(e))


def rsa_spki(n, e, alg_params=NULL, pad=0, trailing=b""):
    alg = seq(oid(OID_RSA), alg_params) if alg_params is not None else \
        seq(oid(OID_RSA))
    return seq(alg, bitstring(rsa_pub(n, e, pad) + trailing))


# ---- the corpus ---------------------------------------------------------------

def main():
    out = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.dirname(os.path.abspath(__file__))
    cases = []

    def put(nm, der, verdict, why, spki=None):
        with open(os.path.join(out, nm + ".der"), "wb") as f:
            f.write(der)
        if spki is not None:
            with open(os.path.join(out, nm + ".spki.der"), "wb") as f:
                f.write(spki)
        cases.append("%s\t%s\t%s" % (nm, verdict, why))

    c = P256
    ecdsa_alg = seq(oid(OID_ECDSA_SHA256))
    d = ec_priv(c, "userca hostile p256")
    x, y = mul_g(c, d)
    canon = ec_spki(c, uncompressed(c, x, y))

    def ec_sign(tbs):
        return ecdsa_sign(c, d, tbs)

    put("ec_ok", csr("ec-ok", canon, ecdsa_alg, ec_sign), "accept", "",
        canon)
    put("ec_infinity", csr("ec-infinity", ec_spki(c, b"\x00"), ecdsa_alg,
                           lambda t: ecdsa_forge_infinity(c, t)),
        "refuse", "infinity")
    off = uncompressed(c, x, (y + 1) % c["p"])
    put("ec_offcurve", csr("ec-offcurve", ec_spki(c, off), ecdsa_alg,
                           ec_sign), "refuse", "public key cannot be decoded")
    put("ec_explicit", csr("ec-explicit", ec_spki(
        c, uncompressed(c, x, y), explicit_params(c)), ecdsa_alg, ec_sign),
        "refuse", "explicit curve parameters")
    comp = bytes([2 | (y & 1)]) + x.to_bytes(c["size"], "big")
    put("ec_compressed", csr("ec-compressed", ec_spki(c, comp), ecdsa_alg,
                             ec_sign), "accept", "", canon)
    hyb = bytes([6 | (y & 1)]) + uncompressed(c, x, y)[1:]
    put("ec_hybrid", csr("ec-hybrid", ec_spki(c, hyb), ecdsa_alg, ec_sign),
        "accept", "", canon)
    put("ec_params_null", csr("ec-params-null", ec_spki(
        c, uncompressed(c, x, y), NULL), ecdsa_alg, ec_sign),
        "refuse", "public key cannot be decoded")

    # RSA-2048, fixed primes; e = 65537 and a 301-bit exponent both work.
    rng = random.Random(20261122)
    e_big = 2 ** 300 + 1
    while True:
        p = prime(rng, 1024, (65537, e_big))
        q = prime(rng, 1024, (65537, e_big))
        if p != q and _gcd(e_big, (p - 1) * (q - 1)) == 1:
            break
    n = p * q
    lam = (p - 1) * (q - 1) // _gcd(p - 1, q - 1)
    rsa_alg = seq(oid(OID_RSA_SHA256), NULL)
    d65537 = pow(65537, -1, lam)

    def rsa_sign65537(tbs):
        return rsa_sign(n, d65537, tbs)

    rcanon = rsa_spki(n, 65537)
    put("rsa_ok", csr("rsa-ok", rcanon, rsa_alg, rsa_sign65537), "accept",
        "", rcanon)
    put("rsa_params_absent", csr("rsa-params-absent", rsa_spki(
        n, 65537, None), rsa_alg, rsa_sign65537), "accept", "", rcanon)
    junk = seq(octets(bytes(range(200))))
    put("rsa_params_junk", csr("rsa-params-junk", rsa_spki(
        n, 65537, junk), rsa_alg, rsa_sign65537), "refuse", "parameters other than NULL")
    put("rsa_params_octets", csr("rsa-params-octets", rsa_spki(
        n, 65537, octets(b"\xa5" * 200)), rsa_alg, rsa_sign65537),
        "refuse", "parameters other than NULL")
    put("rsa_trailing", csr("rsa-trailing", rsa_spki(
        n, 65537, trailing=b"\x00" * 8 + b"trailing junk"), rsa_alg,
        rsa_sign65537), "refuse", "not DER")
    put("rsa_int_padded", csr("rsa-int-padded", rsa_spki(
        n, 65537, pad=2), rsa_alg, rsa_sign65537), "refuse",
        "not DER")
    put("rsa_e_huge", csr("rsa-e-huge", rsa_spki(n, e_big), rsa_alg,
                          lambda t: rsa_sign(n, pow(e_big, -1, lam), t)),
        "refuse", "public exponent")
    # No private key exists for an even exponent: a signature with the
    # 65537 key, which the exponent check must refuse before anything else.
    put("rsa_e_even", csr("rsa-e-even", rsa_spki(n, 65538), rsa_alg,
                          rsa_sign65537), "refuse", "public exponent")
    # e = 1: the "signature" is the padded digest itself, no key needed.
    put("rsa_e_one", csr("rsa-e-one", rsa_spki(n, 1), rsa_alg,
                         lambda t: emsa_pkcs1(t, 256)), "refuse", "public exponent")
    # A prime modulus: anyone can compute the private exponent from n.
    np_ = prime(random.Random(4099), 2048, (65537,))
    put("rsa_n_prime", csr("rsa-n-prime", rsa_spki(np_, 65537), rsa_alg,
                           lambda t: rsa_sign(np_, pow(65537, -1, np_ - 1),
                                              t)),
        "refuse", "not valid.*modulus")

    # Ed25519: refused by policy (see README, key policy).
    k = ed25519.Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(b"userca hostile ed25519").digest())
    raw = k.public_key().public_bytes(serialization.Encoding.Raw,
                                      serialization.PublicFormat.Raw)
    espki = seq(seq(oid(OID_ED25519)), bitstring(raw))
    put("ed25519", csr("ed25519", espki, seq(oid(OID_ED25519)),
                       lambda t: k.sign(t)), "refuse", "ed25519")

    with open(os.path.join(out, "CASES"), "w") as f:
        f.write("# NAME\tVERDICT\tREFUSAL (ERE); written by "
                "gen_csr_hostile.py\n")
        f.write("\n".join(cases) + "\n")


main()
