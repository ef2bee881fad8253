-- The language a reservation was booked in: its e-mails, sent later by the worker, use it.
-- Reservations made before this column existed were booked on the English-only site.
ALTER TABLE reservations
    ADD COLUMN language text NOT NULL DEFAULT 'en' CHECK (language IN ('it', 'en'));
ALTER TABLE reservations ALTER COLUMN language DROP DEFAULT;
