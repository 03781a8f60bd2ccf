package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/catalog"
)

// The zoo.Catalog methods. Contracts are on zoo.Catalog and in package
// catalog (conventions, schema); the notes here are about PostgreSQL.

// querier is what reads need: the pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// nullJSON stores an empty report as NULL.
func nullJSON(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	return string(raw)
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// --- users and tokens

func (db *DB) CreateUser(ctx context.Context, name string, role zoo.Role) (*zoo.User, error) {
	const op = "postgres.CreateUser"
	if err := catalog.CheckUserName(op, name); err != nil {
		return nil, err
	}
	if err := catalog.CheckRole(op, role); err != nil {
		return nil, err
	}
	u := &zoo.User{Name: name, Role: role, CreatedAt: catalog.Now()}
	err := db.pool.QueryRow(ctx, `INSERT INTO users (name, role, created_at) VALUES ($1, $2, $3) RETURNING id`,
		name, string(role), u.CreatedAt).Scan(&u.ID)
	if err != nil {
		return nil, dbError(op, err, "", fmt.Sprintf("user name %q is taken", name))
	}
	return u, nil
}

const userColumns = `u.id, u.name, u.role, u.created_at`

func scanUser(row pgx.Row) (*zoo.User, error) {
	var u zoo.User
	var role string
	if err := row.Scan(&u.ID, &u.Name, &role, &u.CreatedAt); err != nil {
		return nil, err
	}
	u.Role, u.CreatedAt = zoo.Role(role), u.CreatedAt.UTC()
	return &u, nil
}

func (db *DB) UserByName(ctx context.Context, name string) (*zoo.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE u.name = $1`, name))
	if err != nil {
		return nil, dbError("postgres.UserByName", err, fmt.Sprintf("user %q not found", name), "")
	}
	return u, nil
}

func (db *DB) UserByID(ctx context.Context, id int64) (*zoo.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = $1`, id))
	if err != nil {
		return nil, dbError("postgres.UserByID", err, fmt.Sprintf("user %d not found", id), "")
	}
	return u, nil
}

func (db *DB) SetRole(ctx context.Context, userID int64, role zoo.Role) error {
	const op = "postgres.SetRole"
	if err := catalog.CheckRole(op, role); err != nil {
		return err
	}
	tag, err := db.pool.Exec(ctx, `UPDATE users SET role = $1 WHERE id = $2`, string(role), userID)
	return affected(op, tag, err, fmt.Sprintf("user %d not found", userID))
}

// affected translates err, or NotFound when the statement changed no row.
func affected(op string, tag pgconn.CommandTag, err error, notFound string) error {
	if err != nil {
		return dbError(op, err, notFound, "")
	}
	if tag.RowsAffected() == 0 {
		return zoo.E(op, zoo.NotFound, nil, "%s", notFound)
	}
	return nil
}

func (db *DB) CreateToken(ctx context.Context, userID int64, hash string) (*zoo.Token, error) {
	return db.createToken(ctx, "postgres.CreateToken", userID, hash, "", nil)
}

func (db *DB) CreateNamedToken(ctx context.Context, userID int64, hash, name string, expiresAt *time.Time) (*zoo.Token, error) {
	const op = "postgres.CreateNamedToken"
	if err := catalog.CheckTokenName(op, name); err != nil {
		return nil, err
	}
	return db.createToken(ctx, op, userID, hash, name, expiresAt)
}

// createToken stores a token; name "" means token-ID.
func (db *DB) createToken(ctx context.Context, op string, userID int64, hash, name string, expiresAt *time.Time) (*zoo.Token, error) {
	if err := catalog.CheckTokenHash(op, hash); err != nil {
		return nil, err
	}
	t := &zoo.Token{UserID: userID, Hash: hash, Name: name, CreatedAt: catalog.Now()}
	if expiresAt != nil {
		e := catalog.Stamp(*expiresAt)
		t.ExpiresAt = &e
	}
	err := db.tx(ctx, op, func(tx pgx.Tx) error {
		placeholder := name
		if name == "" {
			placeholder = "new-" + hash // unique, and no valid name (too long), until renamed below
		}
		err := tx.QueryRow(ctx, `INSERT INTO tokens (user_id, hash, created_at, name, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			userID, hash, t.CreatedAt, placeholder, t.ExpiresAt).Scan(&t.ID)
		if err != nil {
			conflict := "this token is already stored"
			var pe *pgconn.PgError
			if name != "" && errors.As(err, &pe) && pe.ConstraintName == "tokens_active_name" {
				conflict = fmt.Sprintf("you already have an active token named %q; revoke it or choose another name", name)
			}
			return dbError(op, err, fmt.Sprintf("user %d not found", userID), conflict)
		}
		if name == "" {
			t.Name = fmt.Sprintf("token-%d", t.ID)
			_, err = tx.Exec(ctx, `UPDATE tokens SET name = $1 WHERE id = $2`, t.Name, t.ID)
			return dbError(op, err, "", fmt.Sprintf("an active token is already named %s", t.Name))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// UserByToken returns NotFound for an unknown, revoked or expired token
// alike. It records the use when the last recorded one is older than
// catalog.TokenTouchInterval (a failure to record it does not fail the
// lookup).
func (db *DB) UserByToken(ctx context.Context, hash string) (*zoo.User, error) {
	now := catalog.Now()
	var u zoo.User
	var role string
	var id int64
	var used *time.Time
	err := db.pool.QueryRow(ctx, `SELECT `+userColumns+`, t.id, t.last_used_at
		FROM tokens t JOIN users u ON u.id = t.user_id
		WHERE t.hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)`, hash, now).
		Scan(&u.ID, &u.Name, &role, &u.CreatedAt, &id, &used)
	if err != nil {
		return nil, dbError("postgres.UserByToken", err, "unknown, revoked or expired token", "")
	}
	u.Role, u.CreatedAt = zoo.Role(role), u.CreatedAt.UTC()
	if used == nil || now.Sub(*used) >= catalog.TokenTouchInterval {
		db.pool.Exec(ctx, `UPDATE tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)`, now, id)
	}
	return &u, nil
}

// RevokeToken is idempotent: revoking a revoked token keeps its first
// revocation time.
func (db *DB) RevokeToken(ctx context.Context, hash string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE hash = $2`, catalog.Now(), hash)
	return affected("postgres.RevokeToken", tag, err, "token not found")
}

const tokenColumns = `id, user_id, name, hash, created_at, expires_at, last_used_at, revoked_at`

func scanToken(row pgx.Row) (zoo.Token, error) {
	var t zoo.Token
	if err := row.Scan(&t.ID, &t.UserID, &t.Name, &t.Hash, &t.CreatedAt, &t.ExpiresAt, &t.LastUsedAt, &t.RevokedAt); err != nil {
		return t, err
	}
	utc := func(p *time.Time) *time.Time {
		if p == nil {
			return nil
		}
		u := p.UTC()
		return &u
	}
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = t.CreatedAt.UTC(), utc(t.ExpiresAt), utc(t.LastUsedAt), utc(t.RevokedAt)
	return t, nil
}

func (db *DB) Tokens(ctx context.Context, userID int64) ([]zoo.Token, error) {
	const op = "postgres.Tokens"
	rows, err := db.pool.Query(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE user_id = $1 ORDER BY id DESC`, userID)
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	defer rows.Close()
	out := []zoo.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, dbError(op, err, "", "")
		}
		out = append(out, t)
	}
	return out, dbError(op, rows.Err(), "", "")
}

func (db *DB) RevokeTokenByName(ctx context.Context, userID int64, name string) (*zoo.Token, error) {
	const op = "postgres.RevokeTokenByName"
	t, err := scanToken(db.pool.QueryRow(ctx, `UPDATE tokens SET revoked_at = $1 WHERE user_id = $2 AND name = $3 AND revoked_at IS NULL RETURNING `+tokenColumns,
		catalog.Now(), userID, name))
	if err != nil {
		return nil, dbError(op, err, fmt.Sprintf("no active token named %q", name), "")
	}
	return &t, nil
}

// --- models

func (db *DB) CreateModel(ctx context.Context, m *zoo.Model) error {
	const op = "postgres.CreateModel"
	if err := catalog.PrepareModel(op, m); err != nil {
		return err
	}
	return db.tx(ctx, op, func(tx pgx.Tx) error { return insertModel(ctx, tx, op, m) })
}

// insertModel reserves m.ID and stores m (prepared) in tx. A concurrent
// transaction reserving the same id waits on the used_ids row and then
// fails with Conflict.
func insertModel(ctx context.Context, tx pgx.Tx, op string, m *zoo.Model) error {
	if _, err := tx.Exec(ctx, `INSERT INTO used_ids (id, used_at) VALUES ($1, $2)`, m.ID, m.CreatedAt); err != nil {
		return dbError(op, err, "", fmt.Sprintf("model id %q was already used; ids are never reused", m.ID))
	}
	if _, err := tx.Exec(ctx, `INSERT INTO models (id, type, owner_id, created_at) VALUES ($1, $2, $3, $4)`,
		m.ID, m.Type, m.OwnerID, m.CreatedAt); err != nil {
		return dbError(op, err, fmt.Sprintf("owner %d not found", m.OwnerID), "")
	}
	for _, uid := range m.Maintainers {
		if _, err := tx.Exec(ctx, `INSERT INTO maintainers (model_id, user_id) VALUES ($1, $2)`, m.ID, uid); err != nil {
			return dbError(op, err, fmt.Sprintf("maintainer %d not found", uid), "")
		}
	}
	m.Downloads = 0
	return nil
}

// modelSelect reads models with their maintainers and download totals in
// one query.
const modelSelect = `SELECT m.id, m.type, m.owner_id, m.created_at,
	COALESCE((SELECT SUM(d.count) FROM downloads d JOIN versions v ON v.id = d.version_id WHERE v.model_id = m.id), 0)::bigint,
	ARRAY(SELECT x.user_id FROM maintainers x WHERE x.model_id = m.id ORDER BY x.user_id)
	FROM models m`

func scanModel(row pgx.Row) (*zoo.Model, error) {
	var m zoo.Model
	if err := row.Scan(&m.ID, &m.Type, &m.OwnerID, &m.CreatedAt, &m.Downloads, &m.Maintainers); err != nil {
		return nil, err
	}
	m.CreatedAt = m.CreatedAt.UTC()
	if m.Maintainers == nil {
		m.Maintainers = []int64{}
	}
	return &m, nil
}

func (db *DB) Model(ctx context.Context, id string) (*zoo.Model, error) {
	const op = "postgres.Model"
	m, err := scanModel(db.pool.QueryRow(ctx, modelSelect+` WHERE m.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, catalog.ModelNotFound(op, id)
	}
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	return m, nil
}

// ListModels returns models ordered by id; publishedOnly keeps those with
// a published or retired version.
func (db *DB) ListModels(ctx context.Context, publishedOnly bool) ([]*zoo.Model, error) {
	const op = "postgres.ListModels"
	q := modelSelect
	if publishedOnly {
		q += ` WHERE EXISTS (SELECT 1 FROM versions v WHERE v.model_id = m.id AND v.state IN ('published', 'retired'))`
	}
	rows, _ := db.pool.Query(ctx, q+` ORDER BY m.id`)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*zoo.Model, error) { return scanModel(row) })
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	if out == nil {
		out = []*zoo.Model{}
	}
	return out, nil
}

// --- versions

// CreateVersion takes the next number with UPDATE … RETURNING, which locks
// the model row until the transaction ends: concurrent uploads to one
// model are numbered in the order they get the lock.
func (db *DB) CreateVersion(ctx context.Context, m *zoo.Model, v *zoo.Version, e zoo.AuditEntry) error {
	const op = "postgres.CreateVersion"
	if err := catalog.PrepareCreateVersion(op, m, v, &e); err != nil {
		return err
	}
	return db.tx(ctx, op, func(tx pgx.Tx) error {
		if m != nil {
			if err := insertModel(ctx, tx, op, m); err != nil {
				return err
			}
		}
		var n int
		err := tx.QueryRow(ctx, `UPDATE models SET last_version = last_version + 1 WHERE id = $1 RETURNING last_version`, v.ModelID).Scan(&n)
		if errors.Is(err, pgx.ErrNoRows) {
			return catalog.ModelNotFound(op, v.ModelID)
		}
		if err != nil {
			return dbError(op, err, "", "")
		}
		var vid int64
		err = tx.QueryRow(ctx, `INSERT INTO versions (model_id, number, state, test_status, uploader_id,
			name, description, format_version, description_file, package_sha256, package_size,
			validation_report, test_report, review_comment, retired_reason, created_at, published_at, conversion)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING id`,
			v.ModelID, n, string(v.State), string(v.TestStatus), v.UploaderID,
			v.Name, v.Description, v.FormatVersion, v.DescriptionFile, v.PackageSHA256, v.PackageSize,
			nullJSON(v.ValidationReport), nullJSON(v.TestReport), v.ReviewComment, v.RetiredReason,
			v.CreatedAt, v.PublishedAt, nullJSON(catalog.EncodeConversion(v.Converted))).Scan(&vid)
		if err != nil {
			return dbError(op, err, fmt.Sprintf("uploader %d not found", v.UploaderID), "")
		}
		if len(v.Files) > 0 {
			paths, shas, sizes := make([]string, len(v.Files)), make([]string, len(v.Files)), make([]int64, len(v.Files))
			for i, f := range v.Files {
				paths[i], shas[i], sizes[i] = f.Path, f.SHA256, f.Size
			}
			if _, err := tx.Exec(ctx, `INSERT INTO files (version_id, path, sha256, size)
				SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[])`, vid, paths, shas, sizes); err != nil {
				return dbError(op, err, "", "")
			}
		}
		e.Version = n
		if err := insertAudit(ctx, tx, op, e); err != nil {
			return err
		}
		v.Number = n
		return nil
	})
}

// versionSelect reads versions with their download counts and files (as a
// JSON array in path order) in one query.
const versionSelect = `SELECT v.model_id, v.number, v.state, v.test_status, v.uploader_id,
	v.name, v.description, v.format_version, v.description_file, v.package_sha256, v.package_size,
	v.validation_report, v.test_report, v.review_comment, v.retired_reason, v.created_at, v.published_at,
	COALESCE(d.count, 0),
	COALESCE((SELECT json_agg(json_build_object('path', f.path, 'sha256', f.sha256, 'size', f.size) ORDER BY f.path)
		FROM files f WHERE f.version_id = v.id), '[]'),
	v.conversion
	FROM versions v LEFT JOIN downloads d ON d.version_id = v.id`

func scanVersion(row pgx.Row) (*zoo.Version, error) {
	var v zoo.Version
	var state, status string
	var validation, test, conversion []byte
	err := row.Scan(&v.ModelID, &v.Number, &state, &status, &v.UploaderID,
		&v.Name, &v.Description, &v.FormatVersion, &v.DescriptionFile, &v.PackageSHA256, &v.PackageSize,
		&validation, &test, &v.ReviewComment, &v.RetiredReason, &v.CreatedAt, &v.PublishedAt,
		&v.Downloads, &v.Files, &conversion)
	if err != nil {
		return nil, err
	}
	if v.Converted, err = catalog.DecodeConversion("postgres.Version", conversion); err != nil {
		return nil, err
	}
	v.State, v.TestStatus = zoo.State(state), zoo.TestStatus(status)
	v.CreatedAt, v.PublishedAt = v.CreatedAt.UTC(), utcPtr(v.PublishedAt)
	if len(validation) > 0 {
		v.ValidationReport = validation
	}
	if len(test) > 0 {
		v.TestReport = test
	}
	if v.Files == nil {
		v.Files = []zoo.File{}
	}
	return &v, nil
}

func (db *DB) Version(ctx context.Context, id string, n int) (*zoo.Version, error) {
	const op = "postgres.Version"
	v, err := scanVersion(db.pool.QueryRow(ctx, versionSelect+` WHERE v.model_id = $1 AND v.number = $2`, id, n))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, missing(ctx, db.pool, op, id, n)
	}
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	return v, nil
}

// LatestPublished: published versions first, then by number, highest first.
func (db *DB) LatestPublished(ctx context.Context, id string) (*zoo.Version, error) {
	const op = "postgres.LatestPublished"
	v, err := scanVersion(db.pool.QueryRow(ctx, versionSelect+` WHERE v.model_id = $1 AND v.state IN ('published', 'retired')
		ORDER BY v.state = 'published' DESC, v.number DESC LIMIT 1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		if err := modelExists(ctx, db.pool, op, id); err != nil {
			return nil, err
		}
		return nil, zoo.E(op, zoo.NotFound, nil, "model %q has no published version", id)
	}
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	return v, nil
}

// missing returns the NotFound error for version id/n: of the model when
// it does not exist, else of the version.
func missing(ctx context.Context, q querier, op, id string, n int) error {
	if err := modelExists(ctx, q, op, id); err != nil {
		return err
	}
	return catalog.VersionNotFound(op, id, n)
}

// modelExists returns nil if model id exists, else NotFound.
func modelExists(ctx context.Context, q querier, op, id string) error {
	var one int
	err := q.QueryRow(ctx, `SELECT 1 FROM models WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return catalog.ModelNotFound(op, id)
	}
	return dbError(op, err, "", "")
}

// changed translates the result of a statement on version id/n: NotFound
// for the model or the version when it changed no row.
func (db *DB) changed(ctx context.Context, op string, tag pgconn.CommandTag, err error, id string, n int) error {
	if err != nil {
		return dbError(op, err, "", "")
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	return missing(ctx, db.pool, op, id, n)
}

// ListVersions returns versions newest first (by creation), of one model
// or of all, in any of f.States or all states, of f.UploaderID or any, at
// most f.Limit (all if 0).
func (db *DB) ListVersions(ctx context.Context, f zoo.VersionFilter) ([]*zoo.Version, error) {
	const op = "postgres.ListVersions"
	var where []string
	var args []any
	if f.ModelID != "" {
		args = append(args, f.ModelID)
		where = append(where, fmt.Sprintf(`v.model_id = $%d`, len(args)))
	}
	if f.UploaderID != 0 {
		args = append(args, f.UploaderID)
		where = append(where, fmt.Sprintf(`v.uploader_id = $%d`, len(args)))
	}
	if len(f.States) > 0 {
		args = append(args, catalog.StateStrings(f.States))
		where = append(where, fmt.Sprintf(`v.state = ANY($%d)`, len(args)))
	}
	q := versionSelect
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY v.id DESC`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, _ := db.pool.Query(ctx, q, args...)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*zoo.Version, error) { return scanVersion(row) })
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	if out == nil {
		out = []*zoo.Version{}
	}
	return out, nil
}

// Transition locks the version row (SELECT … FOR UPDATE), checks its
// state, updates it and appends the audit entry in one transaction. For
// changes-requested and rejected, e.Detail becomes the version's
// ReviewComment; for retired, its RetiredReason; publishing sets
// PublishedAt (unless already set) to e.At.
func (db *DB) Transition(ctx context.Context, id string, n int, from []zoo.State, to zoo.State, e zoo.AuditEntry) error {
	const op = "postgres.Transition"
	if err := catalog.PrepareTransition(op, id, n, from, to, &e); err != nil {
		return err
	}
	return db.tx(ctx, op, func(tx pgx.Tx) error {
		var vid int64
		var cur string
		err := tx.QueryRow(ctx, `SELECT id, state FROM versions WHERE model_id = $1 AND number = $2 FOR UPDATE`, id, n).Scan(&vid, &cur)
		if errors.Is(err, pgx.ErrNoRows) {
			return missing(ctx, tx, op, id, n)
		}
		if err != nil {
			return dbError(op, err, "", "")
		}
		if !slices.Contains(from, zoo.State(cur)) {
			return catalog.WrongState(op, id, n, zoo.State(cur), from, to)
		}
		q, args := `UPDATE versions SET state = $1 WHERE id = $2`, []any{string(to), vid}
		switch to {
		case zoo.StatePublished:
			q, args = `UPDATE versions SET state = $1, published_at = COALESCE(published_at, $3) WHERE id = $2`, append(args, e.At)
		case zoo.StateChangesRequested, zoo.StateRejected:
			q, args = `UPDATE versions SET state = $1, review_comment = $3 WHERE id = $2`, append(args, e.Detail)
		case zoo.StateRetired:
			q, args = `UPDATE versions SET state = $1, retired_reason = $3 WHERE id = $2`, append(args, e.Detail)
		}
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			return dbError(op, err, "", "")
		}
		return insertAudit(ctx, tx, op, e)
	})
}

func (db *DB) SetTestResult(ctx context.Context, id string, n int, status zoo.TestStatus, report json.RawMessage) error {
	const op = "postgres.SetTestResult"
	if err := catalog.CheckTestStatus(op, status); err != nil {
		return err
	}
	if err := catalog.CheckJSON(op, "test report", report); err != nil {
		return err
	}
	tag, err := db.pool.Exec(ctx, `UPDATE versions SET test_status = $1, test_report = $2 WHERE model_id = $3 AND number = $4`,
		string(status), nullJSON(report), id, n)
	return db.changed(ctx, op, tag, err, id, n)
}

func (db *DB) SetConversion(ctx context.Context, id string, n int, c *zoo.Conversion) error {
	const op = "postgres.SetConversion"
	if err := catalog.CheckConversion(op, c); err != nil {
		return err
	}
	tag, err := db.pool.Exec(ctx, `UPDATE versions SET conversion = $1 WHERE model_id = $2 AND number = $3`,
		nullJSON(catalog.EncodeConversion(c)), id, n)
	return db.changed(ctx, op, tag, err, id, n)
}

// CountDownload is one upsert; concurrent counts of one version queue on
// its counter row, not on the version.
func (db *DB) CountDownload(ctx context.Context, id string, n int) error {
	const op = "postgres.CountDownload"
	tag, err := db.pool.Exec(ctx, `INSERT INTO downloads (version_id, count)
		SELECT id, 1 FROM versions WHERE model_id = $1 AND number = $2
		ON CONFLICT (version_id) DO UPDATE SET count = downloads.count + 1`, id, n)
	return db.changed(ctx, op, tag, err, id, n)
}

// CountDownloadOnce counts a download of version n of id by client (a
// key, e.g. a hash of its address) on day (days since the epoch, UTC)
// unless that client was already counted for the version that day, and
// reports whether it counted; rows of earlier days are dropped.
func (db *DB) CountDownloadOnce(ctx context.Context, id string, n int, client string, day int64) (bool, error) {
	const op = "postgres.CountDownload"
	counted := false
	err := db.tx(ctx, op, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM download_clients WHERE day < $1`, day); err != nil {
			return dbError(op, err, "", "")
		}
		tag, err := tx.Exec(ctx, `INSERT INTO download_clients (version_id, day, client)
			SELECT id, $1, $2 FROM versions WHERE model_id = $3 AND number = $4
			ON CONFLICT DO NOTHING`, day, client, id, n)
		if err != nil {
			return dbError(op, err, "", "")
		}
		if tag.RowsAffected() == 0 {
			var one int
			err := tx.QueryRow(ctx, `SELECT 1 FROM versions WHERE model_id = $1 AND number = $2`, id, n).Scan(&one)
			if errors.Is(err, pgx.ErrNoRows) {
				return catalog.VersionNotFound(op, id, n)
			}
			return dbError(op, err, "", "") // nil: counted already today
		}
		counted = true
		_, err = tx.Exec(ctx, `INSERT INTO downloads (version_id, count)
			SELECT id, 1 FROM versions WHERE model_id = $1 AND number = $2
			ON CONFLICT (version_id) DO UPDATE SET count = downloads.count + 1`, id, n)
		return dbError(op, err, "", "")
	})
	return counted && err == nil, err
}

// --- audit and blobs

func insertAudit(ctx context.Context, q interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}, op string, e zoo.AuditEntry) error {
	_, err := q.Exec(ctx, `INSERT INTO audit_log (at, actor_id, action, model_id, version, detail) VALUES ($1, $2, $3, $4, $5, $6)`,
		e.At, e.ActorID, e.Action, e.ModelID, e.Version, e.Detail)
	return dbError(op, err, "", "")
}

// Audit returns the entries of modelID (all entries if empty), newest
// first, at most limit (all if limit <= 0).
func (db *DB) Audit(ctx context.Context, modelID string, limit int) ([]zoo.AuditEntry, error) {
	const op = "postgres.Audit"
	q, args := `SELECT id, at, actor_id, action, model_id, version, detail FROM audit_log`, []any{}
	if modelID != "" {
		q, args = q+` WHERE model_id = $1`, append(args, modelID)
	}
	q += ` ORDER BY id DESC`
	if limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, limit)
	}
	rows, _ := db.pool.Query(ctx, q, args...)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (zoo.AuditEntry, error) {
		var e zoo.AuditEntry
		err := row.Scan(&e.ID, &e.At, &e.ActorID, &e.Action, &e.ModelID, &e.Version, &e.Detail)
		e.At = e.At.UTC()
		return e, err
	})
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	if out == nil {
		out = []zoo.AuditEntry{}
	}
	return out, nil
}

// AddAudit appends e (At defaults to now).
func (db *DB) AddAudit(ctx context.Context, e zoo.AuditEntry) error {
	const op = "postgres.AddAudit"
	if e.Action == "" {
		return zoo.E(op, zoo.Invalid, nil, "an audit entry needs an action")
	}
	e.At = catalog.Stamp(e.At)
	return insertAudit(ctx, db.pool, op, e)
}

// ReferencedBlobs reads every file, package and conversion sha256 (each
// once, in order) and only then calls fn, so fn may use the catalog. It
// stops at fn's first error and returns it.
func (db *DB) ReferencedBlobs(ctx context.Context, fn func(sha256 string) error) error {
	const op = "postgres.ReferencedBlobs"
	rows, _ := db.pool.Query(ctx, `SELECT sha256 FROM files UNION SELECT package_sha256 FROM versions WHERE package_sha256 <> '' ORDER BY 1`)
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return dbError(op, err, "", "")
	}
	rows, _ = db.pool.Query(ctx, `SELECT conversion::text FROM versions WHERE conversion IS NOT NULL`)
	conversions, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return dbError(op, err, "", "")
	}
	if keys, err = catalog.MergeBlobs(op, keys, conversions); err != nil {
		return err
	}
	for _, k := range keys {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}
