-- Check-in bookkeeping, staff sessions and the audit log.

ALTER TABLE reservations
    ADD COLUMN checked_in_by_staff   uuid REFERENCES staff_users (id),
    ADD COLUMN checked_in_by_api_key uuid REFERENCES api_keys (id);

-- A scanner's retry of one attempt (same nonce) gets the original answer back.
CREATE TABLE checkin_nonces (
    principal      text NOT NULL,
    nonce          text NOT NULL CHECK (length(nonce) BETWEEN 1 AND 64),
    reservation_id uuid NOT NULL REFERENCES reservations (id),
    response       jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, nonce)
);

-- Server-side staff sessions; the cookie holds the raw id, we keep its SHA-256.
CREATE TABLE staff_sessions (
    id_hash       bytea PRIMARY KEY CHECK (length(id_hash) = 32),
    staff_user_id uuid NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX staff_sessions_user ON staff_sessions (staff_user_id);

-- Who changed what and when. `details` holds ids and field names, never personal data.
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,
    subject_id  uuid,
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at DESC);
