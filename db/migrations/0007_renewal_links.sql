-- tokens.revoke_old: redeeming this renewal link also revokes the
-- certificate it renews (reason superseded), in the same transaction as the
-- new one; set when the link is made, from renew --revoke-old or
-- userca.conf [renew] revoke_old, so every door that redeems it does the same.
ALTER TABLE tokens ADD COLUMN revoke_old INTEGER NOT NULL DEFAULT 0;

-- A user's tokens (pending link, offboarding's cancel): without it each of
-- those is a scan of every token ever made.
CREATE INDEX tokens_user ON tokens(user_id);
