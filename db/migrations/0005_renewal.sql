-- Renewal and reminders (userca renew, userca notify).
-- tokens.renews: the certificate a renewal link replaces; redeeming the
-- link marks that certificate superseded_by the new one.  NULL: a first
-- enrollment.
ALTER TABLE tokens ADD COLUMN renews INTEGER REFERENCES certificates(id);

-- One row per reminder mailed: a user is never mailed twice for the same
-- certificate and threshold (days before it expires).
CREATE TABLE reminders (
	cert_id		INTEGER NOT NULL REFERENCES certificates(id),
	threshold	INTEGER NOT NULL,
	sent_at		INTEGER NOT NULL,
	PRIMARY KEY (cert_id, threshold)
);

-- What expires soon: renew, notify and the expiry gauges.
CREATE INDEX certificates_expiry ON certificates(status, not_after);
