//! The schema: versioned migrations and how they are applied.
//!
//! Each entry of [`MIGRATIONS`] brings the schema from version `i` to `i + 1`; a later version
//! appends an entry and never edits an earlier one. [`migrate`] applies what is missing in one
//! transaction holding a transaction-level advisory lock, so several nodes starting at once
//! migrate once, one after the other, and a failed migration leaves nothing behind.

use deadpool_postgres::Object;

use crate::error::DbError;

/// The key of the advisory lock taken while migrating (`"easyim"` in ASCII). It is per
/// database: nodes migrating different schemas of one database wait for each other, briefly.
const MIGRATION_LOCK: i64 = 0x6561_7379_696d;

/// The schema, one entry per version.
///
/// Version 1: accounts, friends, groups, and messages with a cursor per user and conversation.
/// One row per message (`messages`, numbered by `gseq` in insertion order and by `conv_seq`
/// within its conversation), one row per conversation (`convs`, whose row lock serializes the
/// writers of that conversation and hands out `conv_seq`), one cursor per user and
/// conversation (`cursors`): a message is pending for a user while its `conv_seq` lies past
/// the user's `arrived_seq`. There is never a row per recipient, so a group message costs the
/// same whatever the size of the group.
///
/// The steps that need several statements are PL/pgSQL functions, so that each `Storage` call
/// is one statement: one round trip, one transaction. They report the contract's `NotFound`
/// and `Conflict` answers as errors with SQLSTATE `EI404` and `EI409` (the message names the
/// object), which also rolls back whatever the call had written.
pub(crate) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE users (
    id            bigint PRIMARY KEY,
    account       text   NOT NULL UNIQUE,
    nickname      text   NOT NULL,
    avatar        text   NOT NULL,
    password_hash text   NOT NULL,
    secret        text   NOT NULL
);

CREATE TABLE settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- `seq` keeps arrival order, so 'newest first' does not depend on the ids.
CREATE TABLE friend_requests (
    seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id        bigint NOT NULL UNIQUE,
    from_user bigint NOT NULL,
    to_user   bigint NOT NULL,
    msg       text   NOT NULL,
    status    int    NOT NULL
);
CREATE INDEX friend_requests_to ON friend_requests (to_user, seq);
-- At most one open request per pair, even when two nodes store one at the same time.
CREATE UNIQUE INDEX friend_requests_open ON friend_requests (from_user, to_user) WHERE status = 0;

-- Both directions of each friendship.
CREATE TABLE friends (
    user_id   bigint NOT NULL,
    friend_id bigint NOT NULL,
    PRIMARY KEY (user_id, friend_id)
);

CREATE TABLE chat_groups (
    id    bigint PRIMARY KEY,
    name  text   NOT NULL,
    owner bigint NOT NULL
);

CREATE TABLE members (
    group_id bigint NOT NULL REFERENCES chat_groups (id),
    user_id  bigint NOT NULL REFERENCES users (id),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX members_user ON members (user_id, group_id);

-- The last conv_seq handed out in each conversation ('d:low:high' or 'g:id'). Its row lock,
-- held until commit, serializes the writers of one conversation on every node.
CREATE TABLE convs (
    conv     text   PRIMARY KEY,
    last_seq bigint NOT NULL
);

-- gseq: insertion order over all conversations, the `order` of pending messages. It is drawn
-- while the conversation's row lock is held, so within a conversation it follows conv_seq.
CREATE TABLE messages (
    gseq      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conv      text   NOT NULL,
    conv_seq  bigint NOT NULL,
    msg_id    text   NOT NULL,
    from_user bigint NOT NULL,
    to_id     bigint NOT NULL,
    chat_type int    NOT NULL,
    msg_type  int    NOT NULL,
    content   text   NOT NULL,
    ts        bigint NOT NULL,
    UNIQUE (conv, conv_seq),
    UNIQUE (conv, msg_id)
);

-- A message of `conv` is pending for `user_id` while its conv_seq > arrived_seq.
CREATE TABLE cursors (
    user_id     bigint NOT NULL,
    conv        text   NOT NULL,
    arrived_seq bigint NOT NULL,
    read_seq    bigint NOT NULL,
    PRIMARY KEY (user_id, conv)
);

CREATE FUNCTION easyim_create_friend_request(p_id bigint, p_from bigint, p_to bigint, p_msg text)
RETURNS SETOF friend_requests LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM users WHERE id = p_to) THEN
        RAISE EXCEPTION USING ERRCODE = 'EI404', MESSAGE = 'user';
    END IF;
    IF EXISTS (SELECT 1 FROM friends WHERE user_id = p_from AND friend_id = p_to) THEN
        RAISE EXCEPTION USING ERRCODE = 'EI409', MESSAGE = 'friend';
    END IF;
    RETURN QUERY SELECT * FROM friend_requests
        WHERE from_user = p_from AND to_user = p_to AND status = 0;
    IF FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY WITH ins AS (
        INSERT INTO friend_requests (id, from_user, to_user, msg, status)
        VALUES (p_id, p_from, p_to, p_msg, 0)
        ON CONFLICT DO NOTHING
        RETURNING *
    ) SELECT * FROM ins;
    IF FOUND THEN
        RETURN;
    END IF;
    -- A concurrent call stored an open request for the pair (return it), or the id is taken.
    RETURN QUERY SELECT * FROM friend_requests
        WHERE from_user = p_from AND to_user = p_to AND status = 0;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'EI409', MESSAGE = 'request';
    END IF;
END
$fn$;

CREATE FUNCTION easyim_answer_friend_request(p_id bigint, p_to bigint, p_accept boolean)
RETURNS SETOF friend_requests LANGUAGE plpgsql AS $fn$
DECLARE
    r friend_requests;
BEGIN
    SELECT * INTO r FROM friend_requests WHERE id = p_id AND to_user = p_to FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'EI404', MESSAGE = 'request';
    END IF;
    IF r.status <> 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'EI409', MESSAGE = 'answer';
    END IF;
    UPDATE friend_requests SET status = CASE WHEN p_accept THEN 1 ELSE 2 END
        WHERE id = p_id RETURNING * INTO r;
    IF p_accept THEN
        INSERT INTO friends (user_id, friend_id)
        VALUES (r.from_user, r.to_user), (r.to_user, r.from_user)
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NEXT r;
END
$fn$;

-- Returns the member count. Every member's cursor starts at 0: the group has no messages yet.
CREATE FUNCTION easyim_create_group(p_id bigint, p_conv text, p_name text, p_owner bigint,
                                    p_members bigint[])
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    v_all bigint[] := ARRAY(SELECT DISTINCT u FROM unnest(p_members || p_owner) AS t (u) ORDER BY u);
BEGIN
    IF EXISTS (SELECT 1 FROM chat_groups WHERE id = p_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'EI409', MESSAGE = 'group';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(v_all) AS t (u)
               WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = t.u)) THEN
        RAISE EXCEPTION USING ERRCODE = 'EI404', MESSAGE = 'user';
    END IF;
    INSERT INTO chat_groups (id, name, owner) VALUES (p_id, p_name, p_owner)
        ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'EI409', MESSAGE = 'group';
    END IF;
    INSERT INTO members (group_id, user_id) SELECT p_id, u FROM unnest(v_all) AS t (u);
    INSERT INTO cursors (user_id, conv, arrived_seq, read_seq)
        SELECT u, p_conv, 0, 0 FROM unnest(v_all) AS t (u)
        ON CONFLICT (user_id, conv) DO UPDATE SET arrived_seq = 0, read_seq = 0;
    RETURN cardinality(v_all);
END
$fn$;

-- New members' cursors start at the group's last message, read under the conversation's row
-- lock: a message stored concurrently is either before the join (not pending for them, not
-- among its recipients) or after it (pending, a recipient).
CREATE FUNCTION easyim_add_members(p_group bigint, p_conv text, p_users bigint[])
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    v_last bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM chat_groups WHERE id = p_group) THEN
        RAISE EXCEPTION USING ERRCODE = 'EI404', MESSAGE = 'group';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(p_users) AS t (u)
               WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = t.u)) THEN
        RAISE EXCEPTION USING ERRCODE = 'EI404', MESSAGE = 'user';
    END IF;
    INSERT INTO convs (conv, last_seq) VALUES (p_conv, 0) ON CONFLICT DO NOTHING;
    SELECT last_seq INTO v_last FROM convs WHERE conv = p_conv FOR UPDATE;
    WITH added AS (
        INSERT INTO members (group_id, user_id)
        SELECT DISTINCT p_group, u FROM unnest(p_users) AS t (u)
        ON CONFLICT DO NOTHING
        RETURNING user_id
    )
    INSERT INTO cursors (user_id, conv, arrived_seq, read_seq)
        SELECT user_id, p_conv, v_last, v_last FROM added
        ON CONFLICT (user_id, conv)
        DO UPDATE SET arrived_seq = excluded.arrived_seq, read_seq = excluded.read_seq;
END
$fn$;

-- Without its cursor nothing of the group is pending for the user any more.
CREATE FUNCTION easyim_remove_member(p_group bigint, p_conv text, p_user bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM chat_groups WHERE id = p_group) THEN
        RAISE EXCEPTION USING ERRCODE = 'EI404', MESSAGE = 'group';
    END IF;
    DELETE FROM members WHERE group_id = p_group AND user_id = p_user;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'EI404', MESSAGE = 'member';
    END IF;
    DELETE FROM cursors WHERE user_id = p_user AND conv = p_conv;
END
$fn$;

-- Stores a batch of messages in one transaction, in the order given; one row per message
-- (o_idx counts from 1). o_outcome: 0 stored, 1 duplicate (o_conv_seq, o_msg_type, o_content,
-- o_ts are the stored message's), 2 no such user, 3 no such group, 4 not a member, 5 id taken.
-- The conversations of the batch are locked first, in key order, so two batches never wait for
-- each other in a cycle.
CREATE FUNCTION easyim_store_messages(p_ids text[], p_convs text[], p_from bigint[],
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
        o_idx := i; o_outcome := 0; o_conv_seq := v_seq; o_msg_type := NULL;
        o_content := NULL; o_ts := NULL; o_recipients := v_rcpt;
        RETURN NEXT;
    END LOOP;
END
$fn$;
"#,
    // Version 2: group caps. Creating a group and adding members take the caps
    // (`p_max_members`, `p_max_groups`) and refuse with `EI409 group_full` / `too_many_groups`.
    // The group's row (adding) and the new members' user rows, in id order, are locked
    // (`FOR NO KEY UPDATE`, which leaves the foreign keys of `members` free) before counting, so
    // concurrent joins on any node are serialized where they could overshoot a cap.
    r#"
DROP FUNCTION easyim_create_group(bigint, text, text, bigint, bigint[]);
DROP FUNCTION easyim_add_members(bigint, text, bigint[]);

-- Fails if one of `p_users` already belongs to `p_max_groups` groups; locks their rows first.
CREATE FUNCTION easyim_check_groups_per_user(p_users bigint[], p_max_groups bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM 1 FROM users WHERE id = ANY (p_users) ORDER BY id FOR NO KEY UPDATE;
    IF EXISTS (SELECT 1 FROM unnest(p_users) AS t (u)
               WHERE (SELECT count(*) FROM members WHERE user_id = t.u) >= p_max_groups) THEN
        RAISE EXCEPTION USING ERRCODE = 'EI409', MESSAGE = 'too_many_groups';
    END IF;
END
$fn$;

-- Returns the member count. Every member's cursor starts at 0: the group has no messages yet.
CREATE FUNCTION easyim_create_group(p_id bigint, p_conv text, p_name text, p_owner bigint,
                                    p_members bigint[], p_max_members bigint,
                                    p_max_groups bigint)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    v_all bigint[] := ARRAY(SELECT DISTINCT u FROM unnest(p_members || p_owner) AS t (u) ORDER BY u);
BEGIN
    IF EXISTS (SELECT 1 FROM chat_groups WHERE id = p_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'EI409', MESSAGE = 'group';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(v_all) AS t (u)
               WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = t.u)) THEN
        RAISE EXCEPTION USING ERRCODE = 'EI404', MESSAGE = 'user';
    END IF;
    IF cardinality(v_all) > p_max_members THEN
        RAISE EXCEPTION USING ERRCODE = 'EI409', MESSAGE = 'group_full';
    END IF;
    PERFORM easyim_check_groups_per_user(v_all, p_max_groups);
    INSERT INTO chat_groups (id, name, owner) VALUES (p_id, p_name, p_owner)
        ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'EI409', MESSAGE = 'group';
    END IF;
    INSERT INTO members (group_id, user_id) SELECT p_id, u FROM unnest(v_all) AS t (u);
    INSERT INTO cursors (user_id, conv, arrived_seq, read_seq)
        SELECT u, p_conv, 0, 0 FROM unnest(v_all) AS t (u)
        ON CONFLICT (user_id, conv) DO UPDATE SET arrived_seq = 0, read_seq = 0;
    RETURN cardinality(v_all);
END
$fn$;

-- New members' cursors start at the group's last message, read under the conversation's row
-- lock: a message stored concurrently is either before the join (not pending for them, not
-- among its recipients) or after it (pending, a recipient).
CREATE FUNCTION easyim_add_members(p_group bigint, p_conv text, p_users bigint[],
                                   p_max_members bigint, p_max_groups bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    v_last bigint;
    v_new bigint[];
BEGIN
    PERFORM 1 FROM chat_groups WHERE id = p_group FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'EI404', MESSAGE = 'group';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(p_users) AS t (u)
               WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = t.u)) THEN
        RAISE EXCEPTION USING ERRCODE = 'EI404', MESSAGE = 'user';
    END IF;
    v_new := ARRAY(SELECT DISTINCT u FROM unnest(p_users) AS t (u)
                   WHERE NOT EXISTS (SELECT 1 FROM members
                                     WHERE group_id = p_group AND user_id = t.u)
                   ORDER BY u);
    IF (SELECT count(*) FROM members WHERE group_id = p_group) + cardinality(v_new)
       > p_max_members THEN
        RAISE EXCEPTION USING ERRCODE = 'EI409', MESSAGE = 'group_full';
    END IF;
    PERFORM easyim_check_groups_per_user(v_new, p_max_groups);
    INSERT INTO convs (conv, last_seq) VALUES (p_conv, 0) ON CONFLICT DO NOTHING;
    SELECT last_seq INTO v_last FROM convs WHERE conv = p_conv FOR UPDATE;
    WITH added AS (
        INSERT INTO members (group_id, user_id)
        SELECT p_group, u FROM unnest(v_new) AS t (u)
        ON CONFLICT DO NOTHING
        RETURNING user_id
    )
    INSERT INTO cursors (user_id, conv, arrived_seq, read_seq)
        SELECT user_id, p_conv, v_last, v_last FROM added
        ON CONFLICT (user_id, conv)
        DO UPDATE SET arrived_seq = excluded.arrived_seq, read_seq = excluded.read_seq;
END
$fn$;
"#,
    // 3: refresh-token families, each at a generation (a refresh token is good once).
    r#"
CREATE TABLE refresh_families (
    user_id    bigint NOT NULL,
    family     bigint NOT NULL,
    generation bigint NOT NULL,
    PRIMARY KEY (user_id, family)
);
"#,
    // 4: conversation lists (last message, own position, settings) and read positions.
    include_str!("migrations/v4_conversations.sql"),
    // 5: group administration (roles, settings, mutes, join positions), blocks, join requests
    // and friend remarks.
    include_str!("migrations/v5_groups.sql"),
    // 6: a message's reference (reply, recall, edit), its recalled/edited state, and the
    // messages each user deleted from their own view.
    include_str!("migrations/v6_recall.sql"),
    // 7: push devices (the server API's change).
    include_str!("migrations/v7_admin.sql"),
    // 8: messages stored set-based, a fixed number of statements per batch, with their
    // references.
    include_str!("migrations/v8_store_batch.sql"),
    // 9: the webhook outbox.
    include_str!("migrations/v9_outbox.sql"),
    // 10: the system (user 0) writes to any group.
    include_str!("migrations/v10_system_groups.sql"),
];

/// Brings the schema (and, if `schema` is given, the PostgreSQL schema itself) to the current
/// version, in one transaction under an advisory lock. `schema` is a checked identifier.
pub(crate) async fn migrate(client: &mut Object, schema: Option<&str>) -> Result<(), DbError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    if let Some(schema) = schema {
        // An identifier cannot be a bound parameter; `schema` was checked to be [a-z0-9_].
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .await?;
    }
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS easyim_schema_version (
             version    int         PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let version: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM easyim_schema_version",
            &[],
        )
        .await?
        .get(0);
    let current = MIGRATIONS.len() as i32;
    if version > current {
        return Err(DbError::Storage(
            easyim_core::StorageError::unavailable_msg(format!(
                "the database has easyim schema version {version}, newer than this build's \
                 {current}"
            )),
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let v = i as i32 + 1;
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO easyim_schema_version (version) VALUES ($1)",
            &[&v],
        )
        .await?;
        tracing::info!(version = v, "PostgreSQL schema migrated");
    }
    tx.commit().await?;
    Ok(())
}
