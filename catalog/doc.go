// Package catalog holds what the zoo.Catalog implementations (sqlite,
// postgres) share besides the contract in package zoo: the checks and
// defaults every implementation applies to its input before it touches its
// database, so that both accept and reject the same things with the same
// messages, and — in this comment — the schema both implement. The
// conformance suite both pass is catalog/catalogtest.
//
// # Conventions
//
// Beyond the doc comments of zoo.Catalog, both implementations:
//
//   - keep times in UTC with microsecond precision (what PostgreSQL keeps),
//     so a value written and read back compares equal with ==;
//   - set CreatedAt, PublishedAt and AuditEntry.At to Now() when zero and
//     keep them when given (an import of historical versions sets them);
//   - return zoo.NotFound for a read of something absent; zoo.Conflict for a
//     write that clashes with stored data (a taken user name, a used model
//     id, a token hash stored twice, a version not in an expected state);
//     zoo.Invalid for input that can never be stored (unknown role or state,
//     malformed JSON report); zoo.Internal, with the driver's error as the
//     cause, for everything else. Driver errors are translated once, in the
//     implementation, where they enter.
//
// # Semantics the zoo.Catalog comments leave open
//
//   - UserByToken: an unknown and a revoked token are both NotFound (the
//     web layer turns that into Unauthorized). RevokeToken is idempotent
//     and keeps the first revocation time; NotFound for an unknown hash.
//     CreateToken wants a lower-case hex SHA-256 (Invalid otherwise).
//   - CreateModel: Type defaults to "model"; Maintainers are stored
//     without duplicates and returned in ascending order (never nil). A
//     failed create (unknown owner or maintainer) does not use up the id.
//   - ListModels: ordered by id; publishedOnly keeps models with at least
//     one published or retired version. Model.Downloads sums its versions.
//   - CreateVersion: State defaults to draft and TestStatus to pending; any
//     valid state is accepted (an import may create published versions,
//     whose PublishedAt defaults to CreatedAt). Files are stored and
//     returned sorted by path; a failed create does not use up a number.
//   - Version returns a version in any state (visibility is the service's
//     business). LatestPublished prefers published over retired, then the
//     highest number: published 1, retired 2 → 1; retired 1, retired 2 → 2.
//   - ListVersions: newest first (in order of creation); an empty ModelID
//     means all models, empty States all states, Limit 0 no limit.
//   - Transition checks only that the current state is in from (the state
//     machine is the service's). The audit entry's ModelID, Version and
//     Action default to the version's id, number and the target state. On
//     the version, e.Detail becomes ReviewComment for changes-requested and
//     rejected and RetiredReason for retired; publishing sets PublishedAt to
//     e.At unless it is already set.
//   - SetTestResult works in any state: a test result describes the
//     version, it does not change its package.
//   - Audit: newest first; an empty modelID means all entries, limit <= 0
//     no limit. AddAudit needs an Action.
//   - ReferencedBlobs: each key once, in ascending order, gathered before fn
//     is first called (so fn may use the catalog); fn's error stops it and
//     is returned as is.
//
// # Schema
//
// The same tables in both databases; the migrations (numbered SQL files in
// sqlite/migrations and postgres/migrations, applied in one transaction at
// Open and recorded in schema_migrations) differ only in dialect: SQLite
// keeps times as INTEGER microseconds since the Unix epoch and JSON as TEXT,
// PostgreSQL as timestamptz and json (json, not jsonb, so reports come back
// byte for byte).
//
// users are accounts: a unique name and a role (contributor, reviewer,
// admin). tokens belong to a user and keep only the hex SHA-256 of the
// secret (unique), a name (unique among the user's unrevoked tokens;
// token-ID when none was given; migration 0012), an optional expiry, the
// last use (recorded by UserByToken at most once a minute,
// TokenTouchInterval) and, once revoked, when; a revoked or expired token
// stays as a record but no longer authenticates, and the sessions made
// with it end.
//
// used_ids holds every model id ever reserved. A model row references its
// used_ids row, and nothing deletes from used_ids, so an id is never
// reused, even after its model is deleted. models hold the type, the owner,
// and last_version, the highest version number handed out: CreateVersion
// increments it (an UPDATE … RETURNING that locks the model row, or runs
// under SQLite's single writer), so numbers are 1, 2, 3, … per model, never
// repeat, and concurrent uploads to one model wait for each other while
// uploads to different models do not. maintainers lists the other users
// allowed to add versions to a model. A model is created in the same
// transaction as its first version (CreateVersion with a model), so an
// upload that fails or is killed leaves neither the model nor its id
// reserved.
//
// versions are keyed by (model_id, number) and also carry a surrogate id
// that files and downloads refer to and that orders listings (newest
// first). A version holds its state, test status, uploader, the
// description's name, description, format version and path, the
// deterministic package zip's sha256 and size, the validation and test
// reports, the reviewer's last comment, the retirement reason, and when it
// was created and published. files are its child rows: path, sha256, size.
// Blob keys are the sha256 of files and packages; ReferencedBlobs is the
// union of both columns.
//
// downloads keeps one counter per version, apart from versions so that
// counting a download never rewrites (or, on PostgreSQL, copies) the
// immutable version row. A model's download count is the sum over its
// versions. download_clients (migration 0009) holds, for the current UTC
// day only, which clients (a hash of day and address) were counted for
// which version, so that CountDownloadOnce counts each once a day.
//
// audit_log is append-only: when, who (actor 0 is the system), what action,
// the model and version it concerns (empty and 0 for user and token
// actions) and a free-text detail. Transition writes its entry in the same
// transaction as the state change, CreateVersion the upload's in the same
// transaction as the version.
//
// sessions (migration 0002, package session's Store) are web page logins:
// the hex SHA-256 of the cookie's secret id, the token the session was
// made with (a lookup joins tokens, so revoking the token ends its
// sessions at once), the CSRF token, and when it was created, last used
// and expires. Expired, idle and revoked sessions are deleted by
// PurgeSessions.
package catalog
