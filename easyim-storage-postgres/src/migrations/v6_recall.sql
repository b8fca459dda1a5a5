-- 6: a message's reference (reply, recall, edit), its recalled/edited state (kept on its
-- own row, updated in the transaction that stores the RECALL or EDIT), and the messages each
-- user deleted from their own view.
ALTER TABLE messages
    ADD COLUMN ref_id    text    NOT NULL DEFAULT '',
    ADD COLUMN recalled  boolean NOT NULL DEFAULT false,
    ADD COLUMN edited_at bigint  NOT NULL DEFAULT 0;
CREATE TABLE hidden (
    user_id  bigint NOT NULL,
    conv     text   NOT NULL,
    conv_seq bigint NOT NULL,
    PRIMARY KEY (user_id, conv, conv_seq)
);
-- The read position's answer carries the message's new columns too (its result type changes,
-- so the function is dropped and made again).
DROP FUNCTION easyim_record_read(bigint, text, bigint, bigint, bigint, text, bigint);
CREATE FUNCTION easyim_record_read(p_reader bigint, p_conv text, p_group bigint, p_low bigint,
                                   p_high bigint, p_id text, p_seq bigint)
RETURNS TABLE (o_outcome int, o_previous bigint, o_read bigint, o_last bigint, o_own bigint,
               o_msg_id text, o_conv_seq bigint, o_from bigint, o_to bigint, o_chat_type int,
               o_msg_type int, o_content text, o_ts bigint, o_ref_id text,
               o_recalled boolean, o_edited_at bigint)
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
        o_ts := m.ts; o_ref_id := m.ref_id; o_recalled := m.recalled; o_edited_at := m.edited_at;
    END IF;
    RETURN NEXT;
END
$fn$;
