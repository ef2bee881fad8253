-- Who scanned a ticket stays recorded on the reservation, without a foreign key: the key
-- made every check-in lock the scanner's row in api_keys or staff_users (FOR KEY SHARE, one
-- WAL record each, and a MultiXact whenever two scans of one door overlapped). Staff users
-- and API keys are never deleted (they are disabled or revoked), so the ids stay resolvable.
ALTER TABLE reservations
    DROP CONSTRAINT reservations_checked_in_by_api_key_fkey,
    DROP CONSTRAINT reservations_checked_in_by_staff_fkey;
