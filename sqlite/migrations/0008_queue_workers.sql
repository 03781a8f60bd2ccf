-- Live job workers (queue.Liveness) are recorded in the queue file
-- (zoo.queue.db, table zoo_queue_workers, created when it is opened),
-- beside River's tables; this number keeps the catalog's migrations in
-- step with PostgreSQL's, where the table lives in the one database.
SELECT 1;
