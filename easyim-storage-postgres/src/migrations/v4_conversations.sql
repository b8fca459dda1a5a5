-- Version 4: conversation lists. Each cursor gets its user's own newest `conv_seq` in the
-- conversation (`own_seq`), `pinned`, `muted`, and the conversation's `last_seq` when hidden
-- (`hidden_seq`, -1: not hidden). A conversation's last message is found through the
-- (conv, conv_seq) index from `convs.last_seq`, so the message path writes nothing more per
-- message: `easyim_store_messages` sets `own_seq` once per sender and conversation of a batch.
ALTER TABLE cursors
    ADD COLUMN own_seq    bigint  NOT NULL DEFAULT 0,
    ADD COLUMN pinned     boolean NOT NULL DEFAULT false,
    ADD COLUMN muted      boolean NOT NULL DEFAULT false,
    ADD COLUMN hidden_seq bigint  NOT NULL DEFAULT -1;
UPDATE cursors k SET own_seq = o.seq
    FROM (SELECT conv, from_user, max(conv_seq) AS seq FROM messages GROUP BY conv, from_user) o
    WHERE o.conv = k.conv AND o.from_user = k.user_id;

CREATE OR REPLACE FUNCTION easyim_store_messages(p_ids text[], p_convs text[], p_from bigint[],
                                      p_to bigint[], p_group boolean[], p_msg_type int[],
                                      p_content text[], p_ts bigint[])
RETURNS TABLE (o_idx int, o_outcome int, o_conv_seq bigint, o_msg_type int, o_content text,
               o_ts bigint, o_recipients bigint[])
LANGUAGE plpgsql AS $fn$
DECLARE
    n int := coalesce(cardinality(p_ids), 0);
    v_code int[] := '{}';
    v_key text;
    v_seq bigint;
    v_rcpt bigint[];
    r record;
    -- (sender, conversation, conv_seq) of each message stored, for the senders' own_seq.
    v_own_user bigint[] := '{}';
    v_own_conv text[] := '{}';
    v_own_seq bigint[] := '{}';
BEGIN
    -- 1. What needs no lock: the recipient, the group, the membership.
    FOR i IN 1 .. n LOOP
        IF NOT p_group[i] THEN
            v_code[i] := CASE WHEN EXISTS (SELECT 1 FROM users WHERE id = p_to[i])
                              THEN 0 ELSE 2 END;
        ELSIF NOT EXISTS (SELECT 1 FROM chat_groups WHERE id = p_to[i]) THEN
            v_code[i] := 3;
        ELSIF NOT EXISTS (SELECT 1 FROM members WHERE group_id = p_to[i]
                                                  AND user_id = p_from[i]) THEN
            v_code[i] := 4;
        ELSE
            v_code[i] := 0;
        END IF;
    END LOOP;
    -- 2. Lock the conversations, in key order.
    FOR v_key IN SELECT DISTINCT c FROM unnest(p_convs, v_code) AS t (c, code)
                 WHERE code = 0 ORDER BY c LOOP
        INSERT INTO convs (conv, last_seq) VALUES (v_key, 0) ON CONFLICT DO NOTHING;
        PERFORM 1 FROM convs WHERE conv = v_key FOR UPDATE;
    END LOOP;
    -- 3. Each message in turn: idempotency (seen under the lock, so a concurrent resend of
    -- the same id is a Duplicate, never a unique violation), then conv_seq and the insert.
    FOR i IN 1 .. n LOOP
        IF v_code[i] <> 0 THEN
            o_idx := i; o_outcome := v_code[i];
            o_conv_seq := NULL; o_msg_type := NULL; o_content := NULL; o_ts := NULL;
            o_recipients := NULL;
            RETURN NEXT;
            CONTINUE;
        END IF;
        SELECT m.from_user, m.conv_seq, m.msg_type, m.content, m.ts INTO r
            FROM messages m WHERE m.conv = p_convs[i] AND m.msg_id = p_ids[i];
        IF FOUND THEN
            o_idx := i;
            IF r.from_user = p_from[i] THEN
                o_outcome := 1; o_conv_seq := r.conv_seq; o_msg_type := r.msg_type;
                o_content := r.content; o_ts := r.ts;
            ELSE
                o_outcome := 5; o_conv_seq := NULL; o_msg_type := NULL; o_content := NULL;
                o_ts := NULL;
            END IF;
            o_recipients := NULL;
            RETURN NEXT;
            CONTINUE;
        END IF;
        UPDATE convs SET last_seq = last_seq + 1 WHERE conv = p_convs[i]
            RETURNING last_seq INTO v_seq;
        INSERT INTO messages (conv, conv_seq, msg_id, from_user, to_id, chat_type, msg_type,
                              content, ts)
        VALUES (p_convs[i], v_seq, p_ids[i], p_from[i], p_to[i],
                CASE WHEN p_group[i] THEN 1 ELSE 0 END, p_msg_type[i], p_content[i], p_ts[i]);
        IF p_group[i] THEN
            v_rcpt := ARRAY(SELECT user_id FROM members
                            WHERE group_id = p_to[i] AND user_id <> p_from[i]
                            ORDER BY user_id);
        ELSE
            IF v_seq = 1 THEN
                -- Both users get a cursor at 0 with the first message; later it only moves
                -- forward.
                INSERT INTO cursors (user_id, conv, arrived_seq, read_seq)
                VALUES (p_from[i], p_convs[i], 0, 0), (p_to[i], p_convs[i], 0, 0)
                ON CONFLICT DO NOTHING;
            END IF;
            v_rcpt := ARRAY[p_to[i]];
        END IF;
        v_own_user := v_own_user || p_from[i];
        v_own_conv := v_own_conv || p_convs[i];
        v_own_seq := v_own_seq || v_seq;
        o_idx := i; o_outcome := 0; o_conv_seq := v_seq; o_msg_type := NULL;
        o_content := NULL; o_ts := NULL; o_recipients := v_rcpt;
        RETURN NEXT;
    END LOOP;
    -- 4. Each sender's own_seq, once per sender and conversation of the batch (under the
    -- conversations' locks, which every writer of those cursors' own_seq holds too).
    UPDATE cursors k SET own_seq = greatest(k.own_seq, o.s)
        FROM (SELECT u, c, max(s) AS s FROM unnest(v_own_user, v_own_conv, v_own_seq) AS t (u, c, s)
              GROUP BY u, c) o
        WHERE k.user_id = o.u AND k.conv = o.c;
END
$fn$;

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
