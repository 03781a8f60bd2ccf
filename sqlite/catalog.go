package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/catalog"
)

// The zoo.Catalog methods. Contracts are on zoo.Catalog and in package
// catalog (conventions, schema); the notes here are about SQLite.

// querier is what reads need: the read pool or a write transaction.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Times are stored as microseconds since the Unix epoch.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func timePtr(us sql.NullInt64) *time.Time {
	if !us.Valid {
		return nil
	}
	t := fromMicros(us.Int64)
	return &t
}

// nullJSON stores an empty report as NULL and JSON as TEXT (a []byte
// would be a BLOB, which the STRICT TEXT column refuses).
func nullJSON(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	return string(raw)
}

// placeholders returns "?, ?, ?" for n parameters.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// --- users and tokens

func (db *DB) CreateUser(ctx context.Context, name string, role zoo.Role) (*zoo.User, error) {
	const op = "sqlite.CreateUser"
	if err := catalog.CheckUserName(op, name); err != nil {
		return nil, err
	}
	if err := catalog.CheckRole(op, role); err != nil {
		return nil, err
	}
	u := &zoo.User{Name: name, Role: role, CreatedAt: catalog.Now()}
	err := db.tx(ctx, op, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO users (name, role, created_at) VALUES (?, ?, ?) RETURNING id`,
			name, role, micros(u.CreatedAt)).Scan(&u.ID)
		return dbError(op, err, "", fmt.Sprintf("user name %q is taken", name))
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

const userColumns = `u.id, u.name, u.role, u.created_at`

func scanUser(row *sql.Row) (*zoo.User, error) {
	var u zoo.User
	var created int64
	if err := row.Scan(&u.ID, &u.Name, &u.Role, &created); err != nil {
		return nil, err
	}
	u.CreatedAt = fromMicros(created)
	return &u, nil
}

func (db *DB) UserByName(ctx context.Context, name string) (*zoo.User, error) {
	u, err := scanUser(db.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users u WHERE u.name = ?`, name))
	if err != nil {
		return nil, dbError("sqlite.UserByName", err, fmt.Sprintf("user %q not found", name), "")
	}
	return u, nil
}

func (db *DB) UserByID(ctx context.Context, id int64) (*zoo.User, error) {
	u, err := scanUser(db.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = ?`, id))
	if err != nil {
		return nil, dbError("sqlite.UserByID", err, fmt.Sprintf("user %d not found", id), "")
	}
	return u, nil
}

func (db *DB) SetRole(ctx context.Context, userID int64, role zoo.Role) error {
	const op = "sqlite.SetRole"
	if err := catalog.CheckRole(op, role); err != nil {
		return err
	}
	return db.tx(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET role = ? WHERE id = ?`, role, userID)
		return affected(op, res, err, fmt.Sprintf("user %d not found", userID))
	})
}

// affected translates err, or NotFound when the statement changed no row.
func affected(op string, res sql.Result, err error, notFound string) error {
	if err != nil {
		return dbError(op, err, notFound, "")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return dbError(op, err, notFound, "")
	}
	if n == 0 {
		return zoo.E(op, zoo.NotFound, nil, "%s", notFound)
	}
	return nil
}

func (db *DB) CreateToken(ctx context.Context, userID int64, hash string) (*zoo.Token, error) {
	return db.createToken(ctx, "sqlite.CreateToken", userID, hash, "", nil)
}

func (db *DB) CreateNamedToken(ctx context.Context, userID int64, hash, name string, expiresAt *time.Time) (*zoo.Token, error) {
	const op = "sqlite.CreateNamedToken"
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
	err := db.tx(ctx, op, func(tx *sql.Tx) error {
		placeholder := name
		if name == "" {
			placeholder = "new-" + hash // unique, and no valid name (too long), until renamed below
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO tokens (user_id, hash, created_at, name, expires_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			userID, hash, micros(t.CreatedAt), placeholder, nullMicros(t.ExpiresAt)).Scan(&t.ID)
		if err != nil {
			conflict := "this token is already stored"
			if name != "" && !strings.Contains(err.Error(), "tokens.hash") {
				conflict = fmt.Sprintf("you already have an active token named %q; revoke it or choose another name", name)
			}
			return dbError(op, err, fmt.Sprintf("user %d not found", userID), conflict)
		}
		if name == "" {
			t.Name = fmt.Sprintf("token-%d", t.ID)
			_, err = tx.ExecContext(ctx, `UPDATE tokens SET name = ? WHERE id = ?`, t.Name, t.ID)
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
	var created int64
	var id int64
	var used sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT `+userColumns+`, t.id, t.last_used_at
		FROM tokens t JOIN users u ON u.id = t.user_id
		WHERE t.hash = ? AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)`, hash, micros(now)).
		Scan(&u.ID, &u.Name, &u.Role, &created, &id, &used)
	if err != nil {
		return nil, dbError("sqlite.UserByToken", err, "unknown, revoked or expired token", "")
	}
	u.CreatedAt = fromMicros(created)
	if !used.Valid || now.Sub(fromMicros(used.Int64)) >= catalog.TokenTouchInterval {
		db.tx(ctx, "sqlite.UserByToken", func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE tokens SET last_used_at = ? WHERE id = ?`, micros(now), id)
			return err
		})
	}
	return &u, nil
}

// RevokeToken is idempotent: revoking a revoked token keeps its first
// revocation time.
func (db *DB) RevokeToken(ctx context.Context, hash string) error {
	const op = "sqlite.RevokeToken"
	return db.tx(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE hash = ?`,
			micros(catalog.Now()), hash)
		return affected(op, res, err, "token not found")
	})
}

const tokenColumns = `id, user_id, name, hash, created_at, expires_at, last_used_at, revoked_at`

func scanToken(row interface{ Scan(...any) error }) (zoo.Token, error) {
	var t zoo.Token
	var created int64
	var expires, used, revoked sql.NullInt64
	if err := row.Scan(&t.ID, &t.UserID, &t.Name, &t.Hash, &created, &expires, &used, &revoked); err != nil {
		return t, err
	}
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = fromMicros(created), timePtr(expires), timePtr(used), timePtr(revoked)
	return t, nil
}

func (db *DB) Tokens(ctx context.Context, userID int64) ([]zoo.Token, error) {
	const op = "sqlite.Tokens"
	rows, err := db.read.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE user_id = ? ORDER BY id DESC`, userID)
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
	const op = "sqlite.RevokeTokenByName"
	var t zoo.Token
	err := db.tx(ctx, op, func(tx *sql.Tx) error {
		var err error
		t, err = scanToken(tx.QueryRowContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND name = ? AND revoked_at IS NULL RETURNING `+tokenColumns,
			micros(catalog.Now()), userID, name))
		return dbError(op, err, fmt.Sprintf("no active token named %q", name), "")
	})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// --- models

func (db *DB) CreateModel(ctx context.Context, m *zoo.Model) error {
	const op = "sqlite.CreateModel"
	if err := catalog.PrepareModel(op, m); err != nil {
		return err
	}
	return db.tx(ctx, op, func(tx *sql.Tx) error { return insertModel(ctx, tx, op, m) })
}

// insertModel reserves m.ID and stores m (prepared) in tx.
func insertModel(ctx context.Context, tx *sql.Tx, op string, m *zoo.Model) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO used_ids (id, used_at) VALUES (?, ?)`, m.ID, micros(m.CreatedAt)); err != nil {
		return dbError(op, err, "", fmt.Sprintf("model id %q was already used; ids are never reused", m.ID))
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO models (id, type, owner_id, created_at) VALUES (?, ?, ?, ?)`,
		m.ID, m.Type, m.OwnerID, micros(m.CreatedAt)); err != nil {
		return dbError(op, err, fmt.Sprintf("owner %d not found", m.OwnerID), "")
	}
	for _, uid := range m.Maintainers {
		if _, err := tx.ExecContext(ctx, `INSERT INTO maintainers (model_id, user_id) VALUES (?, ?)`, m.ID, uid); err != nil {
			return dbError(op, err, fmt.Sprintf("maintainer %d not found", uid), "")
		}
	}
	m.Downloads = 0
	return nil
}

// modelSelect reads models with their download totals.
const modelSelect = `SELECT m.id, m.type, m.owner_id, m.created_at, COALESCE(dl.n, 0)
	FROM models m
	LEFT JOIN (SELECT v.model_id, SUM(d.count) AS n FROM downloads d JOIN versions v ON v.id = d.version_id GROUP BY v.model_id) dl
		ON dl.model_id = m.id`

func scanModel(sc interface{ Scan(...any) error }) (*zoo.Model, error) {
	var m zoo.Model
	var created int64
	if err := sc.Scan(&m.ID, &m.Type, &m.OwnerID, &created, &m.Downloads); err != nil {
		return nil, err
	}
	m.CreatedAt = fromMicros(created)
	m.Maintainers = []int64{}
	return &m, nil
}

func (db *DB) Model(ctx context.Context, id string) (*zoo.Model, error) {
	const op = "sqlite.Model"
	m, err := scanModel(db.read.QueryRowContext(ctx, modelSelect+` WHERE m.id = ?`, id))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, catalog.ModelNotFound(op, id)
		}
		return nil, dbError(op, err, "", "")
	}
	if err := db.loadMaintainers(ctx, op, map[string]*zoo.Model{id: m}, `WHERE model_id = ?`, id); err != nil {
		return nil, err
	}
	return m, nil
}

// ListModels returns models ordered by id; publishedOnly keeps those with
// a published or retired version.
func (db *DB) ListModels(ctx context.Context, publishedOnly bool) ([]*zoo.Model, error) {
	const op = "sqlite.ListModels"
	q := modelSelect
	if publishedOnly {
		q += ` WHERE EXISTS (SELECT 1 FROM versions v WHERE v.model_id = m.id AND v.state IN ('published', 'retired'))`
	}
	rows, err := db.read.QueryContext(ctx, q+` ORDER BY m.id`)
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	defer rows.Close()
	out := []*zoo.Model{}
	byID := map[string]*zoo.Model{}
	for rows.Next() {
		m, err := scanModel(rows)
		if err != nil {
			return nil, dbError(op, err, "", "")
		}
		out = append(out, m)
		byID[m.ID] = m
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(op, err, "", "")
	}
	rows.Close()
	if err := db.loadMaintainers(ctx, op, byID, ``); err != nil {
		return nil, err
	}
	return out, nil
}

// loadMaintainers fills the Maintainers of models from the maintainer rows
// matching where.
func (db *DB) loadMaintainers(ctx context.Context, op string, models map[string]*zoo.Model, where string, args ...any) error {
	rows, err := db.read.QueryContext(ctx, `SELECT model_id, user_id FROM maintainers `+where+` ORDER BY model_id, user_id`, args...)
	if err != nil {
		return dbError(op, err, "", "")
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var uid int64
		if err := rows.Scan(&id, &uid); err != nil {
			return dbError(op, err, "", "")
		}
		if m := models[id]; m != nil {
			m.Maintainers = append(m.Maintainers, uid)
		}
	}
	return dbError(op, rows.Err(), "", "")
}

// --- versions

// CreateVersion takes the next number from the model's last_version inside
// the write transaction; the single writer connection (and, across
// processes, BEGIN IMMEDIATE) makes that atomic, with the new model (if
// any) and the audit entry in the same transaction.
func (db *DB) CreateVersion(ctx context.Context, m *zoo.Model, v *zoo.Version, e zoo.AuditEntry) error {
	const op = "sqlite.CreateVersion"
	if err := catalog.PrepareCreateVersion(op, m, v, &e); err != nil {
		return err
	}
	return db.tx(ctx, op, func(tx *sql.Tx) error {
		if m != nil {
			if err := insertModel(ctx, tx, op, m); err != nil {
				return err
			}
		}
		var n int
		err := tx.QueryRowContext(ctx, `UPDATE models SET last_version = last_version + 1 WHERE id = ? RETURNING last_version`, v.ModelID).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return catalog.ModelNotFound(op, v.ModelID)
		}
		if err != nil {
			return dbError(op, err, "", "")
		}
		var vid int64
		err = tx.QueryRowContext(ctx, `INSERT INTO versions (model_id, number, state, test_status, uploader_id,
			name, description, format_version, description_file, package_sha256, package_size,
			validation_report, test_report, review_comment, retired_reason, created_at, published_at, conversion)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			v.ModelID, n, v.State, v.TestStatus, v.UploaderID,
			v.Name, v.Description, v.FormatVersion, v.DescriptionFile, v.PackageSHA256, v.PackageSize,
			nullJSON(v.ValidationReport), nullJSON(v.TestReport), v.ReviewComment, v.RetiredReason,
			micros(v.CreatedAt), nullMicros(v.PublishedAt), nullJSON(catalog.EncodeConversion(v.Converted))).Scan(&vid)
		if err != nil {
			return dbError(op, err, fmt.Sprintf("uploader %d not found", v.UploaderID), "")
		}
		for _, f := range v.Files {
			if _, err := tx.ExecContext(ctx, `INSERT INTO files (version_id, path, sha256, size) VALUES (?, ?, ?, ?)`,
				vid, f.Path, f.SHA256, f.Size); err != nil {
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

// versionSelect reads versions with their download counts; the first
// column is the surrogate id.
const versionSelect = `SELECT v.id, v.model_id, v.number, v.state, v.test_status, v.uploader_id,
	v.name, v.description, v.format_version, v.description_file, v.package_sha256, v.package_size,
	v.validation_report, v.test_report, v.review_comment, v.retired_reason, v.created_at, v.published_at,
	COALESCE(d.count, 0), v.conversion
	FROM versions v LEFT JOIN downloads d ON d.version_id = v.id`

func scanVersion(sc interface{ Scan(...any) error }) (int64, *zoo.Version, error) {
	var v zoo.Version
	var id, created int64
	var published sql.NullInt64
	var validation, test, conversion []byte
	err := sc.Scan(&id, &v.ModelID, &v.Number, &v.State, &v.TestStatus, &v.UploaderID,
		&v.Name, &v.Description, &v.FormatVersion, &v.DescriptionFile, &v.PackageSHA256, &v.PackageSize,
		&validation, &test, &v.ReviewComment, &v.RetiredReason, &created, &published, &v.Downloads, &conversion)
	if err != nil {
		return 0, nil, err
	}
	if v.Converted, err = catalog.DecodeConversion("sqlite.Version", conversion); err != nil {
		return 0, nil, err
	}
	v.CreatedAt, v.PublishedAt = fromMicros(created), timePtr(published)
	if len(validation) > 0 {
		v.ValidationReport = validation
	}
	if len(test) > 0 {
		v.TestReport = test
	}
	v.Files = []zoo.File{}
	return id, &v, nil
}

// prepare prepares the statements of the hot reads on the read pool.
func (db *DB) prepare(ctx context.Context) error {
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&db.versionStmt, versionSelect + ` WHERE v.model_id = ? AND v.number = ?`},
		{&db.latestStmt, versionSelect + ` WHERE v.model_id = ? AND v.state IN ('published', 'retired')
			ORDER BY v.state = 'published' DESC, v.number DESC LIMIT 1`},
		{&db.filesStmt, `SELECT path, sha256, size FROM files WHERE version_id = ? ORDER BY path`},
	} {
		st, err := db.read.PrepareContext(ctx, p.query)
		if err != nil {
			return dbError("sqlite.Open", err, "", "")
		}
		*p.stmt = st
	}
	return nil
}

// oneVersion reads the version stmt selects, with its files.
func (db *DB) oneVersion(ctx context.Context, op string, stmt *sql.Stmt, args ...any) (*zoo.Version, error) {
	vid, v, err := scanVersion(stmt.QueryRowContext(ctx, args...))
	if err != nil {
		return nil, err // the caller translates: it knows what was missing
	}
	rows, err := db.filesStmt.QueryContext(ctx, vid)
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	defer rows.Close()
	for rows.Next() {
		var f zoo.File
		if err := rows.Scan(&f.Path, &f.SHA256, &f.Size); err != nil {
			return nil, dbError(op, err, "", "")
		}
		v.Files = append(v.Files, f)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(op, err, "", "")
	}
	return v, nil
}

func (db *DB) Version(ctx context.Context, id string, n int) (*zoo.Version, error) {
	const op = "sqlite.Version"
	v, err := db.oneVersion(ctx, op, db.versionStmt, id, n)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, db.missing(ctx, db.read, op, id, n)
	}
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	return v, nil
}

// LatestPublished: published versions first, then by number, highest first.
func (db *DB) LatestPublished(ctx context.Context, id string) (*zoo.Version, error) {
	const op = "sqlite.LatestPublished"
	v, err := db.oneVersion(ctx, op, db.latestStmt, id)
	if errors.Is(err, sql.ErrNoRows) {
		if err := db.modelExists(ctx, db.read, op, id); err != nil {
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
func (db *DB) missing(ctx context.Context, q querier, op, id string, n int) error {
	if err := db.modelExists(ctx, q, op, id); err != nil {
		return err
	}
	return catalog.VersionNotFound(op, id, n)
}

// modelExists returns nil if model id exists, else NotFound.
func (db *DB) modelExists(ctx context.Context, q querier, op, id string) error {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM models WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return catalog.ModelNotFound(op, id)
	}
	return dbError(op, err, "", "")
}

// changed translates the result of a statement on version id/n: NotFound
// for the model or the version when it changed no row.
func (db *DB) changed(ctx context.Context, tx *sql.Tx, op string, res sql.Result, err error, id string, n int) error {
	if err != nil {
		return dbError(op, err, "", "")
	}
	if k, err := res.RowsAffected(); err != nil || k > 0 {
		return dbError(op, err, "", "")
	}
	return db.missing(ctx, tx, op, id, n)
}

// ListVersions returns versions newest first (by creation), of one model
// or of all, in any of f.States or all states, of f.UploaderID or any, at
// most f.Limit (all if 0).
func (db *DB) ListVersions(ctx context.Context, f zoo.VersionFilter) ([]*zoo.Version, error) {
	const op = "sqlite.ListVersions"
	var where []string
	var args []any
	if f.ModelID != "" {
		where, args = append(where, `v.model_id = ?`), append(args, f.ModelID)
	}
	if f.UploaderID != 0 {
		where, args = append(where, `v.uploader_id = ?`), append(args, f.UploaderID)
	}
	if len(f.States) > 0 {
		where = append(where, `v.state IN (`+placeholders(len(f.States))+`)`)
		for _, s := range f.States {
			args = append(args, string(s))
		}
	}
	q := versionSelect
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY v.id DESC`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	defer rows.Close()
	out := []*zoo.Version{}
	byID := map[int64]*zoo.Version{}
	for rows.Next() {
		vid, v, err := scanVersion(rows)
		if err != nil {
			return nil, dbError(op, err, "", "")
		}
		out = append(out, v)
		byID[vid] = v
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(op, err, "", "")
	}
	rows.Close()
	if err := db.loadFiles(ctx, op, byID); err != nil {
		return nil, err
	}
	return out, nil
}

// loadFiles fills the Files of versions (keyed by surrogate id), in path
// order, a few hundred versions per query.
func (db *DB) loadFiles(ctx context.Context, op string, versions map[int64]*zoo.Version) error {
	ids := make([]any, 0, len(versions))
	for id := range versions {
		ids = append(ids, id)
	}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		rows, err := db.read.QueryContext(ctx, `SELECT version_id, path, sha256, size FROM files
			WHERE version_id IN (`+placeholders(len(chunk))+`) ORDER BY version_id, path`, chunk...)
		if err != nil {
			return dbError(op, err, "", "")
		}
		for rows.Next() {
			var vid int64
			var f zoo.File
			if err := rows.Scan(&vid, &f.Path, &f.SHA256, &f.Size); err != nil {
				rows.Close()
				return dbError(op, err, "", "")
			}
			v := versions[vid]
			v.Files = append(v.Files, f)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return dbError(op, err, "", "")
		}
	}
	return nil
}

// Transition runs in one write transaction: read the state, check it,
// update, append the audit entry. For changes-requested and rejected,
// e.Detail becomes the version's ReviewComment; for retired, its
// RetiredReason; publishing sets PublishedAt (unless already set) to e.At.
func (db *DB) Transition(ctx context.Context, id string, n int, from []zoo.State, to zoo.State, e zoo.AuditEntry) error {
	const op = "sqlite.Transition"
	if err := catalog.PrepareTransition(op, id, n, from, to, &e); err != nil {
		return err
	}
	return db.tx(ctx, op, func(tx *sql.Tx) error {
		var vid int64
		var cur zoo.State
		err := tx.QueryRowContext(ctx, `SELECT id, state FROM versions WHERE model_id = ? AND number = ?`, id, n).Scan(&vid, &cur)
		if errors.Is(err, sql.ErrNoRows) {
			return db.missing(ctx, tx, op, id, n)
		}
		if err != nil {
			return dbError(op, err, "", "")
		}
		if !slices.Contains(from, cur) {
			return catalog.WrongState(op, id, n, cur, from, to)
		}
		q, args := `UPDATE versions SET state = ? WHERE id = ?`, []any{to, vid}
		switch to {
		case zoo.StatePublished:
			q, args = `UPDATE versions SET state = ?, published_at = COALESCE(published_at, ?) WHERE id = ?`, []any{to, micros(e.At), vid}
		case zoo.StateChangesRequested, zoo.StateRejected:
			q, args = `UPDATE versions SET state = ?, review_comment = ? WHERE id = ?`, []any{to, e.Detail, vid}
		case zoo.StateRetired:
			q, args = `UPDATE versions SET state = ?, retired_reason = ? WHERE id = ?`, []any{to, e.Detail, vid}
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return dbError(op, err, "", "")
		}
		return insertAudit(ctx, tx, op, e)
	})
}

func (db *DB) SetTestResult(ctx context.Context, id string, n int, status zoo.TestStatus, report json.RawMessage) error {
	const op = "sqlite.SetTestResult"
	if err := catalog.CheckTestStatus(op, status); err != nil {
		return err
	}
	if err := catalog.CheckJSON(op, "test report", report); err != nil {
		return err
	}
	return db.tx(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE versions SET test_status = ?, test_report = ? WHERE model_id = ? AND number = ?`,
			status, nullJSON(report), id, n)
		return db.changed(ctx, tx, op, res, err, id, n)
	})
}

func (db *DB) SetConversion(ctx context.Context, id string, n int, c *zoo.Conversion) error {
	const op = "sqlite.SetConversion"
	if err := catalog.CheckConversion(op, c); err != nil {
		return err
	}
	return db.tx(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE versions SET conversion = ? WHERE model_id = ? AND number = ?`,
			nullJSON(catalog.EncodeConversion(c)), id, n)
		return db.changed(ctx, tx, op, res, err, id, n)
	})
}

func (db *DB) CountDownload(ctx context.Context, id string, n int) error {
	const op = "sqlite.CountDownload"
	return db.tx(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO downloads (version_id, count)
			SELECT id, 1 FROM versions WHERE model_id = ? AND number = ?
			ON CONFLICT (version_id) DO UPDATE SET count = downloads.count + 1`, id, n)
		return db.changed(ctx, tx, op, res, err, id, n)
	})
}

// CountDownloadOnce counts a download of version n of id by client (a
// key, e.g. a hash of its address) on day (days since the epoch, UTC)
// unless that client was already counted for the version that day, and
// reports whether it counted; rows of earlier days are dropped.
func (db *DB) CountDownloadOnce(ctx context.Context, id string, n int, client string, day int64) (bool, error) {
	const op = "sqlite.CountDownload"
	counted := false
	err := db.tx(ctx, op, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM download_clients WHERE day < ?`, day); err != nil {
			return dbError(op, err, "", "")
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO download_clients (version_id, day, client)
			SELECT id, ?, ? FROM versions WHERE model_id = ? AND number = ?
			ON CONFLICT DO NOTHING`, day, client, id, n)
		if err != nil {
			return dbError(op, err, "", "")
		}
		if k, err := res.RowsAffected(); err != nil || k == 0 {
			if err != nil {
				return dbError(op, err, "", "")
			}
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM versions WHERE model_id = ? AND number = ?`, id, n).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return db.missing(ctx, tx, op, id, n)
			}
			return dbError(op, err, "", "") // nil: counted already today
		}
		counted = true
		res, err = tx.ExecContext(ctx, `INSERT INTO downloads (version_id, count)
			SELECT id, 1 FROM versions WHERE model_id = ? AND number = ?
			ON CONFLICT (version_id) DO UPDATE SET count = downloads.count + 1`, id, n)
		return db.changed(ctx, tx, op, res, err, id, n)
	})
	return counted && err == nil, err
}

// --- audit and blobs

func insertAudit(ctx context.Context, tx *sql.Tx, op string, e zoo.AuditEntry) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (at, actor_id, action, model_id, version, detail) VALUES (?, ?, ?, ?, ?, ?)`,
		micros(e.At), e.ActorID, e.Action, e.ModelID, e.Version, e.Detail)
	return dbError(op, err, "", "")
}

// Audit returns the entries of modelID (all entries if empty), newest
// first, at most limit (all if limit <= 0).
func (db *DB) Audit(ctx context.Context, modelID string, limit int) ([]zoo.AuditEntry, error) {
	const op = "sqlite.Audit"
	q, args := `SELECT id, at, actor_id, action, model_id, version, detail FROM audit_log`, []any{}
	if modelID != "" {
		q, args = q+` WHERE model_id = ?`, append(args, modelID)
	}
	q += ` ORDER BY id DESC`
	if limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, limit)
	}
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	defer rows.Close()
	out := []zoo.AuditEntry{}
	for rows.Next() {
		var e zoo.AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.ActorID, &e.Action, &e.ModelID, &e.Version, &e.Detail); err != nil {
			return nil, dbError(op, err, "", "")
		}
		e.At = fromMicros(at)
		out = append(out, e)
	}
	return out, dbError(op, rows.Err(), "", "")
}

// AddAudit appends e (At defaults to now).
func (db *DB) AddAudit(ctx context.Context, e zoo.AuditEntry) error {
	const op = "sqlite.AddAudit"
	if e.Action == "" {
		return zoo.E(op, zoo.Invalid, nil, "an audit entry needs an action")
	}
	e.At = catalog.Stamp(e.At)
	return db.tx(ctx, op, func(tx *sql.Tx) error { return insertAudit(ctx, tx, op, e) })
}

// ReferencedBlobs reads every file, package and conversion sha256 (each
// once, in order) and only then calls fn, so fn may use the catalog. It
// stops at fn's first error and returns it.
func (db *DB) ReferencedBlobs(ctx context.Context, fn func(sha256 string) error) error {
	const op = "sqlite.ReferencedBlobs"
	var keys []string
	var conversions [][]byte
	for i, q := range []string{
		`SELECT sha256 FROM files UNION SELECT package_sha256 FROM versions WHERE package_sha256 <> '' ORDER BY 1`,
		`SELECT conversion FROM versions WHERE conversion IS NOT NULL`,
	} {
		rows, err := db.read.QueryContext(ctx, q)
		if err != nil {
			return dbError(op, err, "", "")
		}
		for rows.Next() {
			var k []byte
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return dbError(op, err, "", "")
			}
			if i == 0 {
				keys = append(keys, string(k))
			} else {
				conversions = append(conversions, k)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return dbError(op, err, "", "")
		}
	}
	keys, err := catalog.MergeBlobs(op, keys, conversions)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}
