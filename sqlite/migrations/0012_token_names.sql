-- API tokens get a name (unique among a user's active tokens, so that a
-- token is revoked by name), an optional expiry and the time of their last
-- use (recorded at most once a minute). Tokens made before get the name
-- token-ID.
ALTER TABLE tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE tokens ADD COLUMN last_used_at INTEGER;
UPDATE tokens SET name = 'token-' || id WHERE name = '';
CREATE UNIQUE INDEX tokens_active_name ON tokens (user_id, name) WHERE revoked_at IS NULL;
