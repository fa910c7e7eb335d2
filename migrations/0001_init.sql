-- Documents, collections, the change log and the triggers that feed it.

CREATE TABLE collections (
    name        text PRIMARY KEY,
    rules       jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE documents (
    id          uuid NOT NULL,
    collection  text NOT NULL REFERENCES collections(name) ON DELETE CASCADE,
    data        jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    owner       text,
    version     bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT documents_pkey PRIMARY KEY (collection, id)
);
CREATE INDEX documents_created_idx ON documents (collection, created_at, id);

-- One row per change. `id` is the insertion order; `seq` is assigned after
-- commit by the sequencer (see ARCHITECTURE.md), so seq order is commit order.
CREATE TABLE changes (
    id           bigserial PRIMARY KEY,
    seq          bigint UNIQUE,
    collection   text NOT NULL,
    doc_id       uuid NOT NULL,
    op           text NOT NULL CHECK (op IN ('created', 'updated', 'deleted')),
    data         jsonb,
    old_data     jsonb,
    owner        text,
    old_owner    text,
    version      bigint NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- The writing transaction: lets the sequencer look only at recent rows.
    xid          xid8 NOT NULL DEFAULT pg_current_xact_id()
);
-- Keyed by xid so that the sequencer's range scan skips the dead entries that
-- numbering leaves behind (they all have old xids).
CREATE INDEX changes_unsequenced_idx ON changes (xid) WHERE seq IS NULL;
CREATE INDEX changes_collection_seq_idx ON changes (collection, seq);

-- last_seq: the highest seq handed out. pruned_through: retention has removed
-- every change at or below it, so a resume cursor below it is expired.
-- sequenced_xmin: every change written by a transaction older than this is
-- numbered (or was rolled back).
CREATE TABLE feed_state (
    id              boolean PRIMARY KEY DEFAULT true CHECK (id),
    last_seq        bigint NOT NULL DEFAULT 0,
    pruned_through  bigint NOT NULL DEFAULT 0,
    sequenced_xmin  xid8 NOT NULL DEFAULT '0'
);
INSERT INTO feed_state DEFAULT VALUES;

-- Keeps version and updated_at honest for writes made directly in SQL.
CREATE FUNCTION eddy_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.data IS NOT DISTINCT FROM OLD.data AND NEW.owner IS NOT DISTINCT FROM OLD.owner THEN
            RETURN NEW;
        END IF;
        NEW.version := OLD.version + 1;
        NEW.created_at := OLD.created_at;
        NEW.updated_at := clock_timestamp();
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER documents_touch BEFORE UPDATE ON documents
    FOR EACH ROW EXECUTE FUNCTION eddy_touch();

-- Records every change made to documents, by any client. The row carries no
-- seq yet: numbering happens after commit, so it never has to wait for other
-- writers. The NOTIFY only wakes feeds; Eddy's own connections set eddy.quiet
-- and wake their feed in-process instead.
CREATE FUNCTION eddy_record_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO changes (collection, doc_id, op, data, owner, version, created_at, updated_at)
        VALUES (NEW.collection, NEW.id, 'created', NEW.data, NEW.owner, NEW.version, NEW.created_at, NEW.updated_at);
    ELSIF TG_OP = 'UPDATE' THEN
        IF NEW.version = OLD.version THEN
            RETURN NULL;
        END IF;
        INSERT INTO changes (collection, doc_id, op, data, old_data, owner, old_owner, version, created_at, updated_at)
        VALUES (NEW.collection, NEW.id, 'updated', NEW.data, OLD.data, NEW.owner, OLD.owner, NEW.version,
                NEW.created_at, NEW.updated_at);
    ELSE
        INSERT INTO changes (collection, doc_id, op, old_data, owner, old_owner, version, created_at, updated_at)
        VALUES (OLD.collection, OLD.id, 'deleted', OLD.data, OLD.owner, OLD.owner, OLD.version + 1,
                OLD.created_at, clock_timestamp());
    END IF;
    -- Identical payloads are folded into one notification per transaction.
    IF current_setting('eddy.quiet', true) IS DISTINCT FROM 'on' THEN
        PERFORM pg_notify('eddy_changes', '');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER documents_change AFTER INSERT OR UPDATE OR DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION eddy_record_change();

CREATE TABLE api_keys (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('service', 'public')),
    hash        text NOT NULL UNIQUE,
    prefix      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- Ordered room access rules; the first pattern that matches a room decides.
CREATE TABLE room_rules (
    position    int PRIMARY KEY,
    pattern     text NOT NULL,
    join_rule   text NOT NULL,
    broadcast_rule text NOT NULL
);
