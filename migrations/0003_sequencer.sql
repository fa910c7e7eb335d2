-- The sequencer as one statement: the feed calls it in autocommit, so probing,
-- locking, numbering, returning the numbered changes, the NOTIFY and the commit
-- cost one round trip, and the feed dispatches the rows without reading them again.
--
-- READ COMMITTED gives each statement of a volatile function a fresh snapshot,
-- so the numbering statement sees every change that committed before the
-- feed_state row lock was granted (see ARCHITECTURE.md, "Seq order is commit order").
-- `base` is last_seq before this round: the rows returned are base+1, base+2, ...
-- The NOTIFY carries the caller's server id so that its own feed can ignore it.
CREATE FUNCTION eddy_sequence(p_batch bigint, p_server text)
RETURNS TABLE (base bigint, seq bigint, collection text, doc_id uuid, op text, data jsonb, old_data jsonb,
               owner text, old_owner text, version bigint, created_at timestamptz, updated_at timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    v_last bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM changes WHERE seq IS NULL
                   AND xid >= (SELECT sequenced_xmin FROM feed_state)) THEN
        RETURN;
    END IF;
    SELECT last_seq INTO v_last FROM feed_state FOR UPDATE;
    RETURN QUERY
    WITH todo AS (
        SELECT id, row_number() OVER (ORDER BY id) AS rn FROM changes
        WHERE seq IS NULL AND xid >= (SELECT sequenced_xmin FROM feed_state)
        ORDER BY id LIMIT p_batch
    ), done AS (
        UPDATE changes c SET seq = v_last + todo.rn FROM todo WHERE c.id = todo.id AND c.seq IS NULL
        RETURNING c.seq, c.collection, c.doc_id, c.op, c.data, c.old_data, c.owner, c.old_owner, c.version,
                  c.created_at, c.updated_at
    ), moved AS (
        -- The horizon may only move when every visible pending row was numbered.
        UPDATE feed_state SET
            last_seq = GREATEST(last_seq, (SELECT coalesce(max(done.seq), 0) FROM done)),
            sequenced_xmin = CASE WHEN (SELECT count(*) FROM done) < p_batch
                                  THEN pg_snapshot_xmin(pg_current_snapshot()) ELSE sequenced_xmin END
    )
    SELECT v_last, done.* FROM done ORDER BY done.seq;
    IF FOUND THEN
        -- Wakes the feeds of the other servers on this database.
        PERFORM pg_notify('eddy_changes', p_server);
    END IF;
END $$;
