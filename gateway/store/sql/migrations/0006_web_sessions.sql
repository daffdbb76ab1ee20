-- Sessions of the web pages: an officer signs in with their name and token and gets a
-- session cookie. Only the SHA-256 of the cookie's value is kept; a session lives no longer
-- than its token (revoking the token ends it) and ends at sign-out or expiry. The CSRF token
-- is the one every form and page request must echo.
CREATE TABLE web_sessions (
    id_hash     bytea PRIMARY KEY,
    token_id    bigint NOT NULL REFERENCES tokens (id),
    officer_id  bigint NOT NULL REFERENCES officers (id),
    csrf_token  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    ended_at    timestamptz
);
CREATE INDEX web_sessions_token ON web_sessions (token_id);
