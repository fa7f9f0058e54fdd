-- 0005's certificates_expiry (status, not_after) led SQLite's planner away
-- from certificates_user (user_id, status) for per-user lookups
-- ("username = ? AND status = 'valid' AND not_after > ?"), making each
-- batch row a scan of every valid certificate.  renew and notify do well
-- without it: their list is one pass a day.
DROP INDEX IF EXISTS certificates_expiry;
