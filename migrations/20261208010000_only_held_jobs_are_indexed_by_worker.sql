-- Only held jobs are indexed by their worker (measured in the benchmark's lifecycle phase).
--
-- apalis indexes every job by `lock_by`, NULL or not, and no write of a job can be HOT, so a
-- job's insert, its taking and its end each added an entry to that index. Only held jobs are
-- looked up by their worker (orphan recovery, the hand-back of a worker's jobs, and apalis's
-- acknowledgement, which our workers leave off), and only a held job has a worker: one is set
-- when a job is taken and cleared when it ends (20261207220000) or is handed back. Indexed
-- where `lock_by` is set, a job costs that index one entry instead of three. Every one of
-- those statements compares `lock_by` with a value, which implies the predicate, so they keep
-- using the index.
-- It keeps apalis's name, so that an apalis migration creating it "if not exists" leaves
-- this one in place.
DROP INDEX IF EXISTS apalis.idx_apalis_jobs_lock_by;
CREATE INDEX idx_apalis_jobs_lock_by ON apalis.jobs (lock_by) WHERE lock_by IS NOT NULL;
