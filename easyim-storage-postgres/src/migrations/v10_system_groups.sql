-- Version 10: the system (user id 0, the server API's sender "system") may write to any
-- group without being a member: its group messages go to every member. Otherwise
-- easyim_store_messages is version 8's, restated whole (a function is replaced whole).
CREATE OR REPLACE FUNCTION easyim_store_messages(p_ids text[], p_convs text[], p_from bigint[],
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
                          WHEN mb.user_id IS NULL AND b.f <> 0 THEN 4
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
