-- 8: a message's reference (reply, recall, edit), its recalled/edited state (kept on its
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

-- The batch store takes each message's reference (`p_ref`, '' for none) and writes it with
-- the message; otherwise as in version 6. (A RECALL or EDIT is then applied to its target by
-- a second statement of the same transaction.)
DROP FUNCTION easyim_store_messages(text[], text[], bigint[], bigint[], boolean[], int[], text[],
                                    bigint[]);
CREATE FUNCTION easyim_store_messages(p_ids text[], p_convs text[], p_from bigint[],
                                      p_to bigint[], p_group boolean[], p_msg_type int[],
                                      p_content text[], p_ts bigint[], p_ref text[])
RETURNS TABLE (o_idx int, o_outcome int, o_conv_seq bigint, o_msg_type int, o_content text,
               o_ts bigint, o_recipients bigint[])
LANGUAGE plpgsql AS $fn$
DECLARE
    v_code int[];
    v_keys text[];
    v_out int[];
    v_seq bigint[];
BEGIN
    -- 1. What needs no lock: the recipient, the group, the membership.
    SELECT array_agg(CASE WHEN NOT b.g THEN CASE WHEN u.id IS NULL THEN 2 ELSE 0 END
                          WHEN cg.id IS NULL THEN 3
                          WHEN mb.user_id IS NULL THEN 4
                          ELSE 0 END ORDER BY b.i)
      INTO v_code
      FROM unnest(p_to, p_group, p_from) WITH ORDINALITY AS b (t, g, f, i)
      LEFT JOIN users u ON NOT b.g AND u.id = b.t
      LEFT JOIN chat_groups cg ON b.g AND cg.id = b.t
      LEFT JOIN members mb ON b.g AND mb.group_id = b.t AND mb.user_id = b.f;

    -- 2. Lock the conversations, in key order (made first if new, in the same order), so
    --    that two batches never deadlock and writers of one conversation, on any node, are
    --    serialized until commit.
    v_keys := ARRAY(SELECT DISTINCT c FROM unnest(p_convs, v_code) AS t (c, code)
                    WHERE code = 0 ORDER BY c);
    INSERT INTO convs (conv, last_seq)
        SELECT k, 0 FROM unnest(v_keys) AS k ORDER BY k
        ON CONFLICT DO NOTHING;
    PERFORM 1 FROM convs WHERE conv = ANY (v_keys) ORDER BY conv FOR UPDATE;

    -- 3. Under the locks (this statement sees every message committed in them): each
    --    message's outcome, and the conv_seq of each one to store, in batch order.
    SELECT array_agg(p.outcome ORDER BY p.i), array_agg(p.seq ORDER BY p.i)
      INTO v_out, v_seq
      FROM (
        WITH b AS (
            SELECT x.i, x.id, x.c, x.f, x.code
              FROM unnest(p_ids, p_convs, p_from, v_code) WITH ORDINALITY AS x (id, c, f, code, i)
        ),
        stored AS (
            SELECT b.i, m.from_user
              FROM b JOIN messages m ON m.conv = b.c AND m.msg_id = b.id
             WHERE b.code = 0
        ),
        firsts AS (
            SELECT DISTINCT ON (b.c, b.id) b.c, b.id, b.i AS i0, b.f AS f0
              FROM b
             WHERE b.code = 0 AND NOT EXISTS (SELECT 1 FROM stored s WHERE s.i = b.i)
             ORDER BY b.c, b.id, b.i
        ),
        fresh AS (
            SELECT f.i0, cv.last_seq + row_number() OVER (PARTITION BY f.c ORDER BY f.i0) AS seq
              FROM firsts f JOIN convs cv ON cv.conv = f.c
        )
        SELECT b.i,
               CASE WHEN b.code <> 0 THEN b.code
                    WHEN s.i IS NOT NULL THEN CASE WHEN s.from_user = b.f THEN 1 ELSE 5 END
                    WHEN f.i0 = b.i THEN 0
                    WHEN f.f0 = b.f THEN 1
                    ELSE 5 END AS outcome,
               fr.seq
          FROM b
          LEFT JOIN stored s ON s.i = b.i
          LEFT JOIN firsts f ON s.i IS NULL AND f.c = b.c AND f.id = b.id
          LEFT JOIN fresh fr ON fr.i0 = b.i
      ) p;

    -- 4. The new messages, one multi-row insert in batch order (so `gseq` follows `conv_seq`
    --    within each conversation), and each conversation's new last_seq.
    INSERT INTO messages (conv, conv_seq, msg_id, from_user, to_id, chat_type, msg_type,
                          content, ts, ref_id)
        SELECT x.c, x.s, x.id, x.f, x.t, CASE WHEN x.g THEN 1 ELSE 0 END, x.mt, x.ct, x.ts,
               x.r
          FROM unnest(p_convs, v_seq, p_ids, p_from, p_to, p_group, p_msg_type, p_content,
                      p_ts, v_out, p_ref)
               WITH ORDINALITY AS x (c, s, id, f, t, g, mt, ct, ts, o, r, i)
         WHERE x.o = 0
         ORDER BY x.i;
    UPDATE convs SET last_seq = n.s
      FROM (SELECT x.c, max(x.s) AS s FROM unnest(p_convs, v_seq, v_out) AS x (c, s, o)
             WHERE x.o = 0 GROUP BY x.c) n
     WHERE convs.conv = n.c;

    -- 5. Both users get a cursor at 0 with the first message of a 1:1 conversation; later it
    --    only moves forward. Then each sender's own_seq, once per sender and conversation.
    INSERT INTO cursors (user_id, conv, arrived_seq, read_seq)
        SELECT DISTINCT y.u, y.c, 0::bigint, 0::bigint
          FROM unnest(p_from, p_to, p_convs, p_group, v_seq, v_out) AS x (f, t, c, g, s, o)
         CROSS JOIN LATERAL (VALUES (x.f, x.c), (x.t, x.c)) AS y (u, c)
         WHERE x.o = 0 AND NOT x.g AND x.s = 1
         ORDER BY 1, 2
        ON CONFLICT DO NOTHING;
    UPDATE cursors k SET own_seq = greatest(k.own_seq, o.s)
      FROM (SELECT x.u, x.c, max(x.s) AS s
              FROM unnest(p_from, p_convs, v_seq, v_out) AS x (u, c, s, o)
             WHERE x.o = 0 GROUP BY x.u, x.c) o
     WHERE k.user_id = o.u AND k.conv = o.c;

    -- 6. The answer: a stored message's recipients (a group's members but the sender, each
    --    group's list read once), a duplicate's stored message.
    RETURN QUERY
    SELECT x.i::int, x.o,
           CASE WHEN x.o = 0 THEN x.s WHEN x.o = 1 THEN m.conv_seq END,
           m.msg_type, m.content, m.ts,
           CASE WHEN x.o <> 0 THEN NULL
                WHEN x.g THEN coalesce(array_remove(gm.mem, x.f), '{}')
                ELSE ARRAY[x.t] END
      FROM unnest(p_ids, p_convs, p_from, p_to, p_group, v_seq, v_out)
           WITH ORDINALITY AS x (id, c, f, t, g, s, o, i)
      LEFT JOIN messages m ON x.o = 1 AND m.conv = x.c AND m.msg_id = x.id
      LEFT JOIN (SELECT mb.group_id, array_agg(mb.user_id ORDER BY mb.user_id) AS mem
                   FROM members mb
                  WHERE mb.group_id IN (SELECT y.t FROM unnest(p_to, p_group, v_out) AS y (t, g, o)
                                         WHERE y.g AND y.o = 0)
                  GROUP BY mb.group_id) gm ON x.g AND x.o = 0 AND gm.group_id = x.t
     ORDER BY x.i;
END
$fn$;
