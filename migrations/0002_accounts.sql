-- User accounts, refresh-token sessions and tombstones of deleted users.

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    -- Normalised (trimmed, lower-case); see accounts::normalise_email.
    email          text NOT NULL UNIQUE,
    password_hash  text NOT NULL,
    -- Set only by a service key; copied into the access token's `role` claim.
    role           text,
    profile        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(profile) = 'object'),
    disabled_at    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- One row per refresh token ever issued. A session is a family: every rotation
-- adds a row with the same family and marks the previous one used, so a used
-- token presented again shows that a copy exists (theft) and ends the family.
CREATE TABLE refresh_tokens (
    hash        text PRIMARY KEY,
    family      uuid NOT NULL,
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

-- Deleted users whose access tokens may still be unexpired; servers refuse
-- their `sub` until the tombstone is pruned (after 24 h, the longest access TTL).
CREATE TABLE deleted_users (
    id          uuid PRIMARY KEY,
    deleted_at  timestamptz NOT NULL DEFAULT now()
);
