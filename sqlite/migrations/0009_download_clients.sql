-- Who downloaded which version on which day, so that a download is
-- counted once per client, version and UTC day (repo.CountDownload).
-- client is a hash of the day and the client's address (an IPv6 client
-- by its /64), not the address; rows of past days are deleted as new
-- downloads are counted.
CREATE TABLE download_clients (
	version_id INTEGER NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
	day        INTEGER NOT NULL,          -- days since 1970-01-01, UTC
	client     TEXT    NOT NULL,
	PRIMARY KEY (version_id, day, client)
) STRICT, WITHOUT ROWID;

CREATE INDEX download_clients_by_day ON download_clients (day);
