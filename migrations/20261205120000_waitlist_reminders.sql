-- The waiting list of a performance, its purpose-bound tokens, and each reservation's reminder.
-- Personal data lives only in waitlist_entries.{name,email,phone,notes}; retention nulls it as
-- it does for reservations.

CREATE TABLE waitlist_entries (
    id                           uuid PRIMARY KEY,
    performance_id               uuid NOT NULL REFERENCES performances (id),
    name                         text CHECK (length(name) BETWEEN 1 AND 100),
    email                        text CHECK (length(email) BETWEEN 3 AND 254),
    phone                        text CHECK (length(phone) <= 32),
    notes                        text CHECK (length(notes) <= 1000),
    party_size                   integer NOT NULL CHECK (party_size > 0),
    -- pending (not yet confirmed by e-mail), waiting (in line), offered (seats held until
    -- offer_expires_at), claimed (became reservation_id), left, removed (by staff), expired.
    status                       text NOT NULL DEFAULT 'pending'
                                 CHECK (status IN ('pending', 'waiting', 'offered', 'claimed', 'left', 'removed', 'expired')),
    created_at                   timestamptz NOT NULL DEFAULT now(),
    -- The place in line: when the visitor confirmed.
    joined_at                    timestamptz,
    offered_at                   timestamptz,
    offer_expires_at             timestamptz,
    finished_at                  timestamptz,
    reservation_id               uuid REFERENCES reservations (id),
    confirmation_sent_at         timestamptz,
    confirmation_send_by         text,
    confirmation_send_started_at timestamptz,
    offer_sent_at                timestamptz,
    offer_send_by                text,
    offer_send_started_at        timestamptz,
    personal_data_erased_at      timestamptz,
    CHECK (status <> 'offered' OR offer_expires_at IS NOT NULL)
);
CREATE INDEX waitlist_entries_line ON waitlist_entries (performance_id, status, joined_at);
CREATE INDEX waitlist_entries_email_created ON waitlist_entries (lower(email), created_at) WHERE email IS NOT NULL;
CREATE INDEX waitlist_entries_offer_expiry ON waitlist_entries (offer_expires_at) WHERE status = 'offered';

-- Tokens of waiting-list e-mails; a reservation's tokens live in reservation_tokens, so neither
-- kind can ever be found as the other.
CREATE TABLE waitlist_tokens (
    id          uuid PRIMARY KEY,
    entry_id    uuid NOT NULL REFERENCES waitlist_entries (id),
    purpose     text NOT NULL CHECK (purpose IN ('confirm', 'leave', 'claim')),
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX waitlist_tokens_entry ON waitlist_tokens (entry_id, purpose);

-- One reminder per reservation, sent under the same delivery lease as its other e-mails.
ALTER TABLE reservations
    ADD COLUMN reminder_sent_at          timestamptz,
    ADD COLUMN reminder_send_by          text,
    ADD COLUMN reminder_send_started_at  timestamptz;
