-- userca records, schema version 1.
-- Later changes go in db/migrations/NNNN_name.sql, applied in order on top
-- of this file; PRAGMA user_version holds the number of steps applied
-- (this file is step 1).  Times are Unix seconds (UTC).

CREATE TABLE users (
	id		INTEGER PRIMARY KEY,
	username	TEXT NOT NULL UNIQUE,
	email		TEXT,
	name		TEXT,
	upn		TEXT,
	ou		TEXT,
	created_at	INTEGER NOT NULL
);

-- Every certificate a CA of this home signed: users, servers, and (on the
-- root's home) intermediates.  issuer_ski tells which CRL lists it.
CREATE TABLE certificates (
	id		INTEGER PRIMARY KEY,
	serial		TEXT NOT NULL UNIQUE,	-- upper-case hex, no colons
	user_id		INTEGER REFERENCES users(id),
	kind		TEXT NOT NULL CHECK (kind IN
			    ('user', 'server', 'intermediate')),
	issuer_ski	TEXT NOT NULL,
	subject		TEXT NOT NULL,
	not_before	INTEGER NOT NULL,
	not_after	INTEGER NOT NULL,
	sha256		TEXT NOT NULL UNIQUE,
	der		BLOB NOT NULL,
	status		TEXT NOT NULL DEFAULT 'valid' CHECK (status IN
			    ('valid', 'revoked')),
	revoked_at	INTEGER,
	reason		INTEGER,		-- RFC 5280 CRLReason
	method		TEXT NOT NULL,		-- csr, p12, batch, enroll-*, ...
	superseded_by	INTEGER REFERENCES certificates(id),
	created_at	INTEGER NOT NULL,
	CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);
CREATE INDEX certificates_user ON certificates(user_id, status);
CREATE INDEX certificates_issuer ON certificates(issuer_ski, status);

CREATE TABLE crls (
	id		INTEGER PRIMARY KEY,
	issuer_ski	TEXT NOT NULL,
	number		INTEGER NOT NULL,
	this_update	INTEGER NOT NULL,
	next_update	INTEGER NOT NULL,
	der		BLOB NOT NULL,
	created_at	INTEGER NOT NULL,
	UNIQUE (issuer_ski, number)
);

-- One-time enrollment tokens: only the SHA-256 of the token is kept.
CREATE TABLE tokens (
	id		INTEGER PRIMARY KEY,
	user_id		INTEGER NOT NULL REFERENCES users(id),
	hash		BLOB NOT NULL UNIQUE,
	created_at	INTEGER NOT NULL,
	expires_at	INTEGER NOT NULL,
	used_at		INTEGER,
	cert_id		INTEGER REFERENCES certificates(id)
);

CREATE TABLE audit (
	id		INTEGER PRIMARY KEY,
	at		INTEGER NOT NULL,
	actor		TEXT NOT NULL,
	action		TEXT NOT NULL,
	subject		TEXT,
	detail		TEXT
);
