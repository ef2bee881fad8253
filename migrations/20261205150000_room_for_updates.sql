-- A reservation is updated several times in its life (e-mail leases, sent stamps, confirmation,
-- check-in), and most of those updates change no indexed column. With free space left on each
-- page, PostgreSQL writes them as HOT updates, which add no index entries; a full page forces
-- a new entry in every index of the table for each update. Pages written from now on keep the
-- room.
ALTER TABLE reservations SET (fillfactor = 80);

-- Every job changes status three times (pending, running, done); each change leaves a dead
-- entry in the job queue's fetch index that every fetch walks past until vacuum removes it.
-- Vacuum the queue after 2% of its rows changed instead of 20%.
ALTER TABLE apalis.jobs SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.02);
