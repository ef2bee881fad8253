-- The language a visitor joined the waiting list in: the list's e-mails and the reservation
-- an offer becomes use it. The default only serves rows written by other means.
ALTER TABLE waitlist_entries
    ADD COLUMN language text NOT NULL DEFAULT 'it' CHECK (language IN ('it', 'en'));
