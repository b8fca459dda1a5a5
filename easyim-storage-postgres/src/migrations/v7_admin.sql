-- Push devices: one row per token (a token is one device, owned by one user at a time).
CREATE TABLE devices (
    token      text   PRIMARY KEY,
    user_id    bigint NOT NULL,
    platform   text   NOT NULL,
    updated_at bigint NOT NULL
);
CREATE INDEX devices_user ON devices (user_id, updated_at, token);

-- Registers a device (DeviceStore::add_device): the user's row lock serializes the user's
-- registrations, so concurrent calls never pass the cap.
CREATE FUNCTION easyim_add_device(p_user bigint, p_platform text, p_token text, p_at bigint,
                                  p_max bigint)
RETURNS boolean LANGUAGE plpgsql AS $fn$
DECLARE
    v_owner bigint;
BEGIN
    PERFORM 1 FROM users WHERE id = p_user FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'EI404', MESSAGE = 'user';
    END IF;
    SELECT user_id INTO v_owner FROM devices WHERE token = p_token;
    IF v_owner IS DISTINCT FROM p_user
       AND (SELECT count(*) FROM devices WHERE user_id = p_user) >= p_max THEN
        RETURN false;
    END IF;
    INSERT INTO devices (token, user_id, platform, updated_at)
    VALUES (p_token, p_user, p_platform, p_at)
    ON CONFLICT (token) DO UPDATE
        SET user_id = EXCLUDED.user_id,
            platform = EXCLUDED.platform,
            updated_at = EXCLUDED.updated_at;
    RETURN true;
END
$fn$;
