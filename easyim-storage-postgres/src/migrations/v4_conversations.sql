-- Version 4: conversation lists. Each conversation's row keeps its last message (`last_gseq`)
-- and time (`updated_at`) next to `last_seq`; each cursor keeps its user's own newest
-- `conv_seq` (`own_seq`), `pinned`, `muted` and the `last_seq` when hidden (`hidden_seq`, -1:
-- not hidden). A trigger keeps them up to date inside the message's own INSERT, under the
-- conversation's row lock `easyim_store_messages` already holds: a message stays one row plus
-- two O(1) updates, whatever the size of the group.
ALTER TABLE convs
    ADD COLUMN last_gseq  bigint NOT NULL DEFAULT 0,
    ADD COLUMN updated_at bigint NOT NULL DEFAULT 0;
UPDATE convs c SET last_gseq = m.gseq, updated_at = m.ts
    FROM messages m WHERE m.conv = c.conv AND m.conv_seq = c.last_seq;

ALTER TABLE cursors
    ADD COLUMN own_seq    bigint  NOT NULL DEFAULT 0,
    ADD COLUMN pinned     boolean NOT NULL DEFAULT false,
    ADD COLUMN muted      boolean NOT NULL DEFAULT false,
    ADD COLUMN hidden_seq bigint  NOT NULL DEFAULT -1;
UPDATE cursors k SET own_seq = o.seq
    FROM (SELECT conv, from_user, max(conv_seq) AS seq FROM messages GROUP BY conv, from_user) o
    WHERE o.conv = k.conv AND o.from_user = k.user_id;

CREATE FUNCTION easyim_message_conversation() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    UPDATE convs SET last_gseq = NEW.gseq, updated_at = NEW.ts WHERE conv = NEW.conv;
    -- A 1:1 conversation's first message comes before its cursors: the sender's is made here.
    INSERT INTO cursors (user_id, conv, arrived_seq, read_seq, own_seq)
    VALUES (NEW.from_user, NEW.conv, 0, 0, NEW.conv_seq)
    ON CONFLICT (user_id, conv) DO UPDATE SET own_seq = excluded.own_seq;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER messages_conversation AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION easyim_message_conversation();

-- Moves a reader's read position (and its delivery cursor) forward, as
-- `MessageStore::record_read` says. p_group is NULL for a 1:1 conversation of p_low and p_high;
-- p_id names a message, else p_seq a position, else the last. o_outcome: 0 read, 1 no such
-- message or not a reader, 2 beyond the last (o_last).
CREATE FUNCTION easyim_record_read(p_reader bigint, p_conv text, p_group bigint, p_low bigint,
                                   p_high bigint, p_id text, p_seq bigint)
RETURNS TABLE (o_outcome int, o_previous bigint, o_read bigint, o_last bigint, o_own bigint,
               o_msg_id text, o_conv_seq bigint, o_from bigint, o_to bigint, o_chat_type int,
               o_msg_type int, o_content text, o_ts bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_last bigint;
    v_seq bigint;
    v_prev bigint;
    v_own bigint;
    m messages;
BEGIN
    IF (p_group IS NULL AND p_reader <> p_low AND p_reader <> p_high)
       OR (p_group IS NOT NULL AND NOT EXISTS (SELECT 1 FROM members
                                               WHERE group_id = p_group AND user_id = p_reader))
    THEN
        o_outcome := 1;
        RETURN NEXT;
        RETURN;
    END IF;
    v_last := coalesce((SELECT last_seq FROM convs WHERE conv = p_conv), 0);
    IF p_id IS NOT NULL THEN
        SELECT * INTO m FROM messages WHERE conv = p_conv AND msg_id = p_id;
        IF NOT FOUND OR m.from_user = p_reader THEN
            o_outcome := 1;
            RETURN NEXT;
            RETURN;
        END IF;
        v_seq := m.conv_seq;
    ELSIF p_seq IS NULL THEN
        v_seq := v_last;
    ELSIF p_seq > v_last THEN
        o_outcome := 2;
        o_last := v_last;
        RETURN NEXT;
        RETURN;
    ELSE
        v_seq := p_seq;
    END IF;
    o_outcome := 0;
    o_last := v_last;
    IF v_last = 0 THEN
        o_previous := 0; o_read := 0; o_own := 0;
        RETURN NEXT;
        RETURN;
    END IF;
    IF p_id IS NULL AND v_seq > 0 THEN
        SELECT * INTO m FROM messages WHERE conv = p_conv AND conv_seq = v_seq;
    END IF;
    SELECT read_seq, own_seq INTO v_prev, v_own FROM cursors
        WHERE user_id = p_reader AND conv = p_conv FOR UPDATE;
    IF NOT FOUND THEN
        v_prev := 0;
        v_own := 0;
    END IF;
    INSERT INTO cursors (user_id, conv, arrived_seq, read_seq)
    VALUES (p_reader, p_conv, v_seq, v_seq)
    ON CONFLICT (user_id, conv) DO UPDATE SET
        arrived_seq = greatest(cursors.arrived_seq, excluded.arrived_seq),
        read_seq = greatest(cursors.read_seq, excluded.read_seq);
    o_previous := v_prev;
    o_read := greatest(v_prev, v_seq);
    o_own := v_own;
    IF m.msg_id IS NOT NULL THEN
        o_msg_id := m.msg_id; o_conv_seq := m.conv_seq; o_from := m.from_user; o_to := m.to_id;
        o_chat_type := m.chat_type; o_msg_type := m.msg_type; o_content := m.content;
        o_ts := m.ts;
    END IF;
    RETURN NEXT;
END
$fn$;
