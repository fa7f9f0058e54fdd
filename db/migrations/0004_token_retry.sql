-- The retry window (a second try after a used link): the SHA-256 of the
-- retry secret handed out with a server-made PKCS#12 or identity profile,
-- until when it may be used, and when it was (once).  NULL: none.
ALTER TABLE tokens ADD COLUMN retry_hash BLOB;
ALTER TABLE tokens ADD COLUMN retry_until INTEGER;
ALTER TABLE tokens ADD COLUMN retry_used_at INTEGER;
