-- Rooms, shows, performances, reservations, purpose-bound tokens, staff and API keys.
-- Personal data lives only in reservations.{name,email,phone,notes}; the retention job nulls it.

CREATE TABLE rooms (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    capacity    integer NOT NULL CHECK (capacity >= 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE shows (
    id          uuid PRIMARY KEY,
    title       text NOT NULL UNIQUE CHECK (length(title) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE performances (
    id                           uuid PRIMARY KEY,
    show_id                      uuid NOT NULL REFERENCES shows (id),
    room_id                      uuid NOT NULL REFERENCES rooms (id),
    starts_at                    timestamptz NOT NULL,
    additional_seats             integer NOT NULL DEFAULT 0 CHECK (additional_seats >= 0),
    manually_occupied_seats      integer NOT NULL DEFAULT 0 CHECK (manually_occupied_seats >= 0),
    max_party_size               integer NOT NULL DEFAULT 10 CHECK (max_party_size BETWEEN 1 AND 1000),
    booking_status               text NOT NULL DEFAULT 'scheduled'
                                 CHECK (booking_status IN ('scheduled', 'open', 'closed', 'cancelled')),
    checkin_opens_minutes_before integer NOT NULL DEFAULT 120 CHECK (checkin_opens_minutes_before >= 0),
    checkin_closes_minutes_after integer NOT NULL DEFAULT 180 CHECK (checkin_closes_minutes_after >= 0),
    created_at                   timestamptz NOT NULL DEFAULT now(),
    updated_at                   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX performances_starts_at ON performances (starts_at);

CREATE TABLE reservations (
    id                      uuid PRIMARY KEY,
    performance_id          uuid NOT NULL REFERENCES performances (id),
    name                    text CHECK (length(name) BETWEEN 1 AND 100),
    email                   text CHECK (length(email) BETWEEN 3 AND 254),
    phone                   text CHECK (length(phone) <= 32),
    notes                   text CHECK (length(notes) <= 1000),
    party_size              integer NOT NULL CHECK (party_size > 0),
    status                  text NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'confirmed', 'cancelled', 'expired')),
    created_at              timestamptz NOT NULL DEFAULT now(),
    confirmed_at            timestamptz,
    cancelled_at            timestamptz,
    checked_in_at           timestamptz,
    confirmation_sent_at    timestamptz,
    ticket_sent_at          timestamptz,
    personal_data_erased_at timestamptz,
    CHECK ((status = 'confirmed') = (confirmed_at IS NOT NULL) OR status = 'cancelled'),
    CHECK (checked_in_at IS NULL OR confirmed_at IS NOT NULL)
);
CREATE INDEX reservations_performance_status ON reservations (performance_id, status);
CREATE INDEX reservations_email_created ON reservations (lower(email), created_at) WHERE email IS NOT NULL;

CREATE TABLE reservation_tokens (
    id             uuid PRIMARY KEY,
    reservation_id uuid NOT NULL REFERENCES reservations (id),
    purpose        text NOT NULL CHECK (purpose IN ('confirm', 'ticket', 'cancel')),
    token_hash     bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz,
    used_at        timestamptz,
    revoked_at     timestamptz
);
CREATE INDEX reservation_tokens_reservation ON reservation_tokens (reservation_id, purpose);

CREATE TABLE staff_users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'editor', 'door', 'operator')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz
);
CREATE UNIQUE INDEX staff_users_email ON staff_users (lower(email));

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    label        text NOT NULL CHECK (length(label) BETWEEN 1 AND 100),
    role         text NOT NULL CHECK (role IN ('admin', 'editor', 'door', 'operator')),
    key_hash     bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
