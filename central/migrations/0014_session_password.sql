-- A session keeps a digest (SHA-256) of the password hash it was opened with, and is live
-- only while the account's hash is still that one: a new password ends every session
-- opened with the old one, a login being checked at that very moment included. Sessions
-- from before this migration have no digest: they end (their users log in again).
DELETE FROM sessions;
ALTER TABLE sessions ADD COLUMN password_digest bytea NOT NULL;
