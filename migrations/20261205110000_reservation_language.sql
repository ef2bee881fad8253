-- The language a reservation was booked in: its e-mails, sent later by the worker, use it.
-- The application always sets it; the default (the contract's DEFAULT_LANGUAGE default) only
-- serves rows written by other means, such as the benchmark's fixtures.
ALTER TABLE reservations
    ADD COLUMN language text NOT NULL DEFAULT 'it' CHECK (language IN ('it', 'en'));
