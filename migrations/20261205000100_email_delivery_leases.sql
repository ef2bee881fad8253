-- One worker at a time sends an e-mail of a reservation (a lease held by the apalis worker's
-- name, freed when that worker stops heartbeating), and a ticket e-mail counts as sent only for
-- the ticket generation it carried: a re-send bumps the generation.
ALTER TABLE reservations
    ADD COLUMN confirmation_send_by         text,
    ADD COLUMN confirmation_send_started_at timestamptz,
    ADD COLUMN ticket_send_by               text,
    ADD COLUMN ticket_send_started_at       timestamptz,
    ADD COLUMN ticket_generation            integer NOT NULL DEFAULT 1 CHECK (ticket_generation >= 1),
    ADD COLUMN ticket_sent_generation       integer NOT NULL DEFAULT 0 CHECK (ticket_sent_generation >= 0);

UPDATE reservations SET ticket_sent_generation = ticket_generation WHERE ticket_sent_at IS NOT NULL;
