package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/catalog"
)

// The session.Store methods: web page login sessions in table sessions
// (migration 0002). Contracts are on session.Store.

// CreateSession stores s, made with the unrevoked token s.TokenHash, and
// sets s.UserID to the token's user.
func (db *DB) CreateSession(ctx context.Context, s *zoo.Session) error {
	const op = "sqlite.CreateSession"
	if err := catalog.CheckTokenHash(op, s.IDHash); err != nil {
		return err
	}
	s.CreatedAt, s.SeenAt, s.ExpiresAt = catalog.Stamp(s.CreatedAt), catalog.Stamp(s.SeenAt), catalog.Stamp(s.ExpiresAt)
	return db.tx(ctx, op, func(tx *sql.Tx) error {
		var tokenID int64
		err := tx.QueryRowContext(ctx, `SELECT id, user_id FROM tokens WHERE hash = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`, s.TokenHash, micros(catalog.Now())).Scan(&tokenID, &s.UserID)
		if err != nil {
			return dbError(op, err, "unknown or revoked token", "")
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO sessions (id_hash, token_id, csrf, created_at, seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			s.IDHash, tokenID, s.CSRF, micros(s.CreatedAt), micros(s.SeenAt), micros(s.ExpiresAt))
		return dbError(op, err, "", "this session id is already stored")
	})
}

// SessionByHash returns the session idHash and its user, if it expires
// after now and its token is not revoked; NotFound otherwise.
func (db *DB) SessionByHash(ctx context.Context, idHash string, now time.Time) (*zoo.Session, *zoo.User, error) {
	const op = "sqlite.SessionByHash"
	var s zoo.Session
	var u zoo.User
	var created, seen, expires, userCreated int64
	err := db.read.QueryRowContext(ctx, `SELECT s.id_hash, t.hash, s.csrf, s.created_at, s.seen_at, s.expires_at,
			u.id, u.name, u.role, u.created_at
		FROM sessions s JOIN tokens t ON t.id = s.token_id JOIN users u ON u.id = t.user_id
		WHERE s.id_hash = ? AND s.expires_at > ? AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)`, idHash, micros(now), micros(now)).
		Scan(&s.IDHash, &s.TokenHash, &s.CSRF, &created, &seen, &expires, &u.ID, &u.Name, &u.Role, &userCreated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, zoo.E(op, zoo.NotFound, nil, "no such session, or it has ended; log in again")
	}
	if err != nil {
		return nil, nil, dbError(op, err, "", "")
	}
	s.UserID = u.ID
	s.CreatedAt, s.SeenAt, s.ExpiresAt, u.CreatedAt = fromMicros(created), fromMicros(seen), fromMicros(expires), fromMicros(userCreated)
	return &s, &u, nil
}

// TouchSession records a use of session idHash at seen.
func (db *DB) TouchSession(ctx context.Context, idHash string, seen time.Time) error {
	const op = "sqlite.TouchSession"
	return db.tx(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET seen_at = ? WHERE id_hash = ?`,
			micros(catalog.Stamp(seen)), idHash)
		return affected(op, res, err, "no such session")
	})
}

// DeleteSession deletes session idHash; deleting a missing one succeeds.
func (db *DB) DeleteSession(ctx context.Context, idHash string) error {
	const op = "sqlite.DeleteSession"
	return db.tx(ctx, op, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash)
		return dbError(op, err, "", "")
	})
}

// PurgeSessions deletes the sessions that expired by now, were last used
// before idleBefore, or whose token is revoked, and returns how many.
func (db *DB) PurgeSessions(ctx context.Context, now, idleBefore time.Time) (int64, error) {
	const op = "sqlite.PurgeSessions"
	var n int64
	err := db.tx(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ? OR seen_at < ?
			OR token_id IN (SELECT id FROM tokens WHERE revoked_at IS NOT NULL)`, micros(now), micros(idleBefore))
		if err != nil {
			return dbError(op, err, "", "")
		}
		n, err = res.RowsAffected()
		return dbError(op, err, "", "")
	})
	return n, err
}
