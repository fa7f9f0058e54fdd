#!/usr/bin/python3
"""SCEP (RFC 8894) requests built from parts, for the tests that real
clients cannot make: a PKCSReq signed with a key other than its CSR's, one
encrypted to another certificate, one in a cipher we refuse, replayed
transaction IDs, and the benchmark's pre-generated requests.  Built with
python3-asn1crypto and python3-cryptography (neither is ours).

  scep_msg.py req --ra RA.pem --key KEY.pem --challenge TOKEN [--cn CN]
      [--cipher aes128|aes256|des3|des] [--digest sha1|sha256|sha512]
      [--sign-key OTHER.pem] [--encrypt-to CERT.pem] [--tid ID]
      [--type 19|17|20|21|22] [--signer-cert CERT.pem] [--content FILE]
      [--issuer-serial CERT.pem]
      --out REQ.der
  scep_msg.py send --url URL --in REQ.der [--get] --key KEY.pem
      [--out CERT.pem] [--cafile CA.pem]     prints "SUCCESS serial",
                           "SUCCESS CRL" (the CRL, DER, in --out),
                           "FAILURE failInfo" or "HTTP code"
  scep_msg.py many --ra RA.pem --tokens FILE --dir DIR   one request per
                           token line (8 RSA-2048 keys cycled, AES-256,
                           SHA-256)
"""
import argparse
import base64
import datetime
import os
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

from asn1crypto import algos, cms, core, csr as acsr, x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as apad, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID

SCEP = '2.16.840.1.113733.1.9.'
ATTR = {'messageType': SCEP + '2', 'pkiStatus': SCEP + '3',
        'failInfo': SCEP + '4', 'senderNonce': SCEP + '5',
        'recipientNonce': SCEP + '6', 'transactionID': SCEP + '7'}
CIPHERS = {  # name: (OID, key bytes, block bytes)
    'aes128': ('2.16.840.1.101.3.4.1.2', 16, 16),
    'aes256': ('2.16.840.1.101.3.4.1.42', 32, 16),
    'des3': ('1.2.840.113549.3.7', 24, 8),
    'des': ('1.3.14.3.2.7', 8, 8),
}
DIGESTS = {'sha1': hashes.SHA1, 'sha256': hashes.SHA256,
           'sha512': hashes.SHA512}


def load_key(path, create=False):
    if create and not os.path.exists(path):
        k = rsa.generate_private_key(65537, 2048)
        with open(path, 'wb') as f:
            f.write(k.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    with open(path, 'rb') as f:
        return serialization.load_pem_private_key(f.read(), None)


def load_cert(path):
    with open(path, 'rb') as f:
        data = f.read()
    if b'-----BEGIN' in data:
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def self_signed(key, cn):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.utcnow()
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))


def make_csr(key, cn, challenge):
    b = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    if challenge is not None:
        b = b.add_attribute(x509.oid.AttributeOID.CHALLENGE_PASSWORD,
                            challenge.encode())
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def envelope(data, to, cipher):
    oid, klen, blen = CIPHERS[cipher]
    cek = os.urandom(klen)
    iv = os.urandom(blen)
    pad = padding.PKCS7(blen * 8).padder()
    plain = pad.update(data) + pad.finalize()
    alg = algorithms.AES(cek) if cipher.startswith('aes') else algorithms.TripleDES(cek)
    enc = Cipher(alg, modes.CBC(iv)).encryptor()
    body = enc.update(plain) + enc.finalize()
    rc = ax509.Certificate.load(to.public_bytes(serialization.Encoding.DER))
    ri = cms.RecipientInfo(name='ktri', value=cms.KeyTransRecipientInfo({
        'version': 'v0',
        'rid': cms.RecipientIdentifier(name='issuer_and_serial_number',
                                       value=cms.IssuerAndSerialNumber({
                                           'issuer': rc.issuer,
                                           'serial_number': rc.serial_number})),
        'key_encryption_algorithm': {'algorithm': 'rsaes_pkcs1v15'},
        'encrypted_key': to.public_key().encrypt(cek, apad.PKCS1v15()),
    }))
    env = cms.EnvelopedData({
        'version': 'v0', 'recipient_infos': [ri],
        'encrypted_content_info': {
            'content_type': 'data',
            'content_encryption_algorithm': {
                'algorithm': oid, 'parameters': core.OctetString(iv)},
            'encrypted_content': body}})
    return cms.ContentInfo({'content_type': 'enveloped_data',
                            'content': env}).dump()


def printable(s):
    return core.PrintableString(s)


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, 'big')
    return bytes([0x80 | len(b)]) + b


def pki_message(content, cert, key, digest, tid, mtype):
    h = hashes.Hash(DIGESTS[digest]())
    h.update(content)
    md = h.finalize()
    attrs = [
        (b'\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x09\x03',
         core.ObjectIdentifier('1.2.840.113549.1.7.1').dump()),
        (b'\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x09\x04',
         core.OctetString(md).dump()),
        (core.ObjectIdentifier(ATTR['messageType']).dump(),
         printable(str(mtype)).dump()),
        (core.ObjectIdentifier(ATTR['transactionID']).dump(),
         printable(tid).dump()),
        (core.ObjectIdentifier(ATTR['senderNonce']).dump(),
         core.OctetString(os.urandom(16)).dump()),
    ]
    enc = sorted(tlv(0x30, o + tlv(0x31, v)) for o, v in attrs)
    body = b''.join(enc)
    sig = key.sign(tlv(0x31, body), apad.PKCS1v15(), DIGESTS[digest]())
    ac = ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    ias = cms.IssuerAndSerialNumber({'issuer': ac.issuer,
                                     'serial_number': ac.serial_number}).dump()
    dalg = algos.DigestAlgorithm({'algorithm': digest}).dump()
    salg = algos.SignedDigestAlgorithm({'algorithm': 'rsassa_pkcs1v15'}).dump()
    si = tlv(0x30, core.Integer(1).dump() + ias + dalg + tlv(0xa0, body)
             + salg + core.OctetString(sig).dump())
    encap = tlv(0x30, core.ObjectIdentifier('1.2.840.113549.1.7.1').dump()
                + tlv(0xa0, core.OctetString(content).dump()))
    sd = tlv(0x30, core.Integer(1).dump() + tlv(0x31, dalg) + encap
             + tlv(0xa0, ac.dump()) + tlv(0x31, si))
    return tlv(0x30, core.ObjectIdentifier('1.2.840.113549.1.7.2').dump()
               + tlv(0xa0, sd))


def tlv(tag, body):
    return bytes([tag]) + der_len(len(body)) + body


def cmd_req(a):
    key = load_key(a.key, create=True)
    ra = load_cert(a.encrypt_to or a.ra)
    if a.issuer_serial:
        # GetCert / GetCRL: IssuerAndSerialNumber of a certificate
        c = ax509.Certificate.load(load_cert(a.issuer_serial).public_bytes(
            serialization.Encoding.DER))
        inner = cms.IssuerAndSerialNumber({'issuer': c.issuer,
                                           'serial_number': c.serial_number}).dump()
    elif a.content:
        with open(a.content, 'rb') as f:
            inner = f.read()
    else:
        inner = make_csr(key, a.cn, a.challenge)
    skey = load_key(a.sign_key, create=True) if a.sign_key else key
    scert = load_cert(a.signer_cert) if a.signer_cert else self_signed(skey, a.cn)
    tid = a.tid or base64.b64encode(os.urandom(20)).decode().strip('=')
    msg = pki_message(envelope(inner, ra, a.cipher), scert, skey, a.digest,
                      tid, a.type)
    with open(a.out, 'wb') as f:
        f.write(msg)


def attr_of(si, oid):
    for at in si['signed_attrs']:
        if at['type'].dotted == oid:
            return at['values'][0]
    return None


def cmd_send(a):
    with open(a.in_, 'rb') as f:
        msg = f.read()
    if a.get:
        q = urllib.parse.urlencode({'operation': 'PKIOperation',
                                    'message': base64.b64encode(msg).decode()})
        req = urllib.request.Request(a.url + '?' + q)
    else:
        req = urllib.request.Request(a.url + '?operation=PKIOperation', data=msg,
                                     headers={'Content-Type': 'application/x-pki-message'})
    ctx = ssl.create_default_context(cafile=a.cafile) if a.cafile else None
    try:
        r = urllib.request.urlopen(req, timeout=30, context=ctx)
        body = r.read()
        ctype = r.headers.get('Content-Type')
    except urllib.error.HTTPError as e:
        print('HTTP', e.code)
        return
    except (urllib.error.URLError, ConnectionError) as e:
        print('HTTP none', e)
        return
    if ctype != 'application/x-pki-message':
        print('HTTP', 200, ctype)
        return
    ci = cms.ContentInfo.load(body)
    si = ci['content']['signer_infos'][0]
    status = attr_of(si, ATTR['pkiStatus']).native
    if status != '0':
        print('FAILURE', attr_of(si, ATTR['failInfo']).native)
        return
    env = cms.ContentInfo.load(ci['content']['encap_content_info']['content'].native)
    key = load_key(a.key)
    ed = env['content']
    cek = key.decrypt(ed['recipient_infos'][0].chosen['encrypted_key'].native,
                      apad.PKCS1v15())
    eci = ed['encrypted_content_info']
    algo = eci['content_encryption_algorithm']
    iv = algo['parameters'].native
    c = algorithms.AES(cek) if len(cek) in (16, 24, 32) and len(iv) == 16 \
        else algorithms.TripleDES(cek)
    dec = Cipher(c, modes.CBC(iv)).decryptor()
    plain = dec.update(eci['encrypted_content'].native) + dec.finalize()
    unpad = padding.PKCS7(len(iv) * 8).unpadder()
    plain = unpad.update(plain) + unpad.finalize()
    sd = cms.ContentInfo.load(plain)['content']
    certs = sd['certificates']
    if not certs and sd['crls']:
        der = sd['crls'][0].chosen.dump()
        if a.out:
            with open(a.out, 'wb') as f:
                f.write(der)
        print('SUCCESS CRL')
        return
    der = certs[0].chosen.dump()
    cert = x509.load_der_x509_certificate(der)
    if a.out:
        with open(a.out, 'wb') as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
    print('SUCCESS', format(cert.serial_number, 'X'))


def cmd_many(a):
    os.makedirs(a.dir, exist_ok=True)
    with open(a.tokens) as f:
        toks = [t.strip() for t in f if t.strip()]
    ra = load_cert(a.ra)
    # The server's work does not depend on whose key it is: a few RSA-2048
    # keys, cycled, keep making the requests cheap.
    keys = [rsa.generate_private_key(65537, 2048) for _ in range(min(8, len(toks)))]
    certs = [self_signed(k, 'bench') for k in keys]
    for i, t in enumerate(toks):
        key, cert = keys[i % len(keys)], certs[i % len(keys)]
        # A CN each: micromdm's depot names files CN.serial.
        msg = pki_message(envelope(make_csr(key, 'bench-%d' % i, t), ra, 'aes256'),
                          cert, key, 'sha256',
                          '%s-%d' % (os.path.basename(a.dir), i), 19)
        with open(os.path.join(a.dir, '%05d.der' % i), 'wb') as f:
            f.write(msg)


def main():
    p = argparse.ArgumentParser()
    s = p.add_subparsers(dest='cmd', required=True)
    r = s.add_parser('req')
    r.add_argument('--ra', required=True)
    r.add_argument('--key', required=True)
    r.add_argument('--challenge')
    r.add_argument('--cn', default='device')
    r.add_argument('--cipher', default='aes256', choices=CIPHERS)
    r.add_argument('--digest', default='sha256', choices=DIGESTS)
    r.add_argument('--sign-key')
    r.add_argument('--signer-cert')
    r.add_argument('--encrypt-to')
    r.add_argument('--tid')
    r.add_argument('--type', type=int, default=19)
    r.add_argument('--content')
    r.add_argument('--issuer-serial')
    r.add_argument('--out', required=True)
    d = s.add_parser('send')
    d.add_argument('--url', required=True)
    d.add_argument('--in', dest='in_', required=True)
    d.add_argument('--get', action='store_true')
    d.add_argument('--key', required=True)
    d.add_argument('--out')
    d.add_argument('--cafile')
    m = s.add_parser('many')
    m.add_argument('--ra', required=True)
    m.add_argument('--tokens', required=True)
    m.add_argument('--dir', required=True)
    a = p.parse_args()
    {'req': cmd_req, 'send': cmd_send, 'many': cmd_many}[a.cmd](a)


if __name__ == '__main__':
    sys.exit(main())
