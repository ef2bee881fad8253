-- Failed logins per account, shared by every web process and kept across restarts. The key is
-- lower() of the address as typed (trimmed), the same folding the staff lookup uses, so every
-- spelling that finds an account counts against that account. An attempt is counted before
-- its password is checked.
CREATE TABLE login_failures (
    account           text PRIMARY KEY,
    failures          integer NOT NULL,
    window_started_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_window ON login_failures (window_started_at);
