-- The audit log becomes a hash chain (README "The audit log"): each row
-- keeps the hash of the row before it and its own hash, SHA-256 over a
-- length-prefixed encoding of id, at, actor, action, subject, detail and
-- prev_hash.  SQL cannot hash, so store_open() chains the rows written
-- before this migration in the same transaction that applies it.
ALTER TABLE audit ADD COLUMN prev_hash TEXT;
ALTER TABLE audit ADD COLUMN hash TEXT;

-- Anchors (written at every CRL signing): the log's row count and head
-- hash then, signed by the CA that signed the CRL, so a truncated or
-- recomputed chain no longer matches.  Also published as
-- public/audit-checkpoint.json.
CREATE TABLE audit_checkpoints (
	id		INTEGER PRIMARY KEY,
	at		INTEGER NOT NULL,
	issuer_ski	TEXT NOT NULL,
	crl_number	INTEGER NOT NULL,
	rows		INTEGER NOT NULL,
	head_id		INTEGER NOT NULL,
	head_hash	TEXT NOT NULL,
	signature	BLOB NOT NULL
);
