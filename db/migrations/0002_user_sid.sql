-- The user's Active Directory SID (S-1-5-21-...), for the strong
-- certificate mapping extension (KB5014754); NULL when not known.
ALTER TABLE users ADD COLUMN sid TEXT;
