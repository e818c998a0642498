-- Server-side sessions (session_engine = "db"). Portable SQL: SQLite and
-- PostgreSQL. expire_date is in Unix seconds; user_key is the session's
-- "_auth_user_id", indexed so that the auth layer can end every session
-- of a user (a password change, "log out everywhere").
CREATE TABLE nuages_session (
    session_key VARCHAR(40) NOT NULL PRIMARY KEY,
    session_data TEXT NOT NULL,
    expire_date BIGINT NOT NULL,
    user_key VARCHAR(255)
);
CREATE INDEX nuages_session_expire_date ON nuages_session (expire_date);
CREATE INDEX nuages_session_user_key ON nuages_session (user_key);
