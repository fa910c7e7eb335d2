-- Messages of the PostgreSQL broker too large for a NOTIFY payload (8,000 bytes).
-- Receivers fetch them by id within milliseconds; rows older than a minute are deleted.
CREATE TABLE IF NOT EXISTS bus_messages (
    id bigserial PRIMARY KEY,
    payload text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS bus_messages_created_at ON bus_messages (created_at);
