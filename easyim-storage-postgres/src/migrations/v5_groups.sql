-- 5: group administration, blocks and friend remarks: the group's settings, and each member's role (0 member, 1 admin;
-- the owner is chat_groups.owner), mute (until, in ms since the epoch) and join position (the
-- group's last conv_seq when it joined; 0 for the members before this version, who keep
-- seeing the whole history as before).
ALTER TABLE chat_groups
    ADD COLUMN avatar          text    NOT NULL DEFAULT '',
    ADD COLUMN notice          text    NOT NULL DEFAULT '',
    ADD COLUMN join_policy     int     NOT NULL DEFAULT 0,
    ADD COLUMN invite_policy   int     NOT NULL DEFAULT 0,
    ADD COLUMN history_visible int     NOT NULL DEFAULT 0,
    ADD COLUMN mute_all        boolean NOT NULL DEFAULT false;

ALTER TABLE members
    ADD COLUMN role        int    NOT NULL DEFAULT 0,
    ADD COLUMN muted_until bigint NOT NULL DEFAULT 0,
    ADD COLUMN joined_seq  bigint NOT NULL DEFAULT 0;

-- A new member's join position is the group's last conv_seq. The functions that add members
-- hold the conversation's row lock while they insert, so a message stored concurrently is
-- either at or before it (not for the newcomer) or after it.
CREATE FUNCTION easyim_member_joined() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    NEW.joined_seq := coalesce((SELECT last_seq FROM convs WHERE conv = 'g:' || NEW.group_id), 0);
    RETURN NEW;
END
$fn$;
CREATE TRIGGER members_joined BEFORE INSERT ON members
    FOR EACH ROW EXECUTE FUNCTION easyim_member_joined();

-- Blocks: `user_id` blocked `blocked_id`.
CREATE TABLE blocks (
    user_id    bigint NOT NULL,
    blocked_id bigint NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
);

-- Requests to join a group on approval; status 0 open, 1 accepted, 2 refused. At most one
-- open request per user and group, even when two nodes file one at the same time.
CREATE TABLE join_requests (
    id       bigint PRIMARY KEY,
    group_id bigint NOT NULL,
    user_id  bigint NOT NULL,
    status   int    NOT NULL
);
CREATE UNIQUE INDEX join_requests_open ON join_requests (group_id, user_id) WHERE status = 0;
CREATE INDEX join_requests_group ON join_requests (group_id, status, id);

-- A user's remark on a friend (its own direction of the friendship).
ALTER TABLE friends ADD COLUMN remark text NOT NULL DEFAULT '';
