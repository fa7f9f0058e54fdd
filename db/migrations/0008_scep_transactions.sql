-- SCEP (RFC 8894) transactions: the transactionID a client chose, with the
-- SHA-256 of its request (the PKCS#10) and of its signer's public key,
-- and the certificate it issued.  Written in the same transaction as that
-- certificate, so that after a restart CertPoll (GetCertInitial) still
-- answers it and a replayed request gets the same certificate, while the
-- same transactionID with another request is refused.
CREATE TABLE scep_transactions (
	tid		TEXT PRIMARY KEY,
	req_sha256	BLOB NOT NULL,
	key_sha256	BLOB NOT NULL,
	cert_id		INTEGER NOT NULL REFERENCES certificates(id),
	created_at	INTEGER NOT NULL
);
