-- The webhook outbox: events written in the transaction of what they report, until delivered.
-- `key` orders delivery (a conversation, a user); `due_ms` is the next try; `lease_ms` the end
-- of the current claim (claims are serialized by an advisory lock, see outbox.rs), so several
-- nodes share the outbox without sending an event twice at the same time.
CREATE TABLE outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text   NOT NULL,
    key        text   NOT NULL,
    data       text   NOT NULL,
    created_ms bigint NOT NULL,
    attempts   int    NOT NULL DEFAULT 0,
    due_ms     bigint NOT NULL DEFAULT 0,
    lease_ms   bigint NOT NULL DEFAULT 0
);
CREATE INDEX outbox_key ON outbox (key, id);
