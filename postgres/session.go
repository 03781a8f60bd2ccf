package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/catalog"
)

// The session.Store methods: web page login sessions in table sessions
// (migration 0002), shared by every replica. Contracts are on
// session.Store.

// CreateSession stores s, made with the unrevoked token s.TokenHash, and
// sets s.UserID to the token's user. The token row is locked (FOR SHARE)
// so that a concurrent revocation waits for it and then ends the session.
func (db *DB) CreateSession(ctx context.Context, s *zoo.Session) error {
	const op = "postgres.CreateSession"
	if err := catalog.CheckTokenHash(op, s.IDHash); err != nil {
		return err
	}
	s.CreatedAt, s.SeenAt, s.ExpiresAt = catalog.Stamp(s.CreatedAt), catalog.Stamp(s.SeenAt), catalog.Stamp(s.ExpiresAt)
	return db.tx(ctx, op, func(tx pgx.Tx) error {
		var tokenID int64
		err := tx.QueryRow(ctx, `SELECT id, user_id FROM tokens WHERE hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2) FOR SHARE`, s.TokenHash, catalog.Now()).Scan(&tokenID, &s.UserID)
		if err != nil {
			return dbError(op, err, "unknown or revoked token", "")
		}
		_, err = tx.Exec(ctx, `INSERT INTO sessions (id_hash, token_id, csrf, created_at, seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			s.IDHash, tokenID, s.CSRF, s.CreatedAt, s.SeenAt, s.ExpiresAt)
		return dbError(op, err, "", "this session id is already stored")
	})
}

// SessionByHash returns the session idHash and its user, if it expires
// after now and its token is not revoked; NotFound otherwise.
func (db *DB) SessionByHash(ctx context.Context, idHash string, now time.Time) (*zoo.Session, *zoo.User, error) {
	const op = "postgres.SessionByHash"
	var s zoo.Session
	var u zoo.User
	var role string
	err := db.pool.QueryRow(ctx, `SELECT s.id_hash, t.hash, s.csrf, s.created_at, s.seen_at, s.expires_at,
			u.id, u.name, u.role, u.created_at
		FROM sessions s JOIN tokens t ON t.id = s.token_id JOIN users u ON u.id = t.user_id
		WHERE s.id_hash = $1 AND s.expires_at > $2 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)`, idHash, now).
		Scan(&s.IDHash, &s.TokenHash, &s.CSRF, &s.CreatedAt, &s.SeenAt, &s.ExpiresAt, &u.ID, &u.Name, &role, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, zoo.E(op, zoo.NotFound, nil, "no such session, or it has ended; log in again")
	}
	if err != nil {
		return nil, nil, dbError(op, err, "", "")
	}
	u.Role, s.UserID = zoo.Role(role), u.ID
	s.CreatedAt, s.SeenAt, s.ExpiresAt, u.CreatedAt = s.CreatedAt.UTC(), s.SeenAt.UTC(), s.ExpiresAt.UTC(), u.CreatedAt.UTC()
	return &s, &u, nil
}

// TouchSession records a use of session idHash at seen.
func (db *DB) TouchSession(ctx context.Context, idHash string, seen time.Time) error {
	const op = "postgres.TouchSession"
	tag, err := db.pool.Exec(ctx, `UPDATE sessions SET seen_at = $1 WHERE id_hash = $2`,
		catalog.Stamp(seen), idHash)
	if err != nil {
		return dbError(op, err, "", "")
	}
	if tag.RowsAffected() == 0 {
		return zoo.E(op, zoo.NotFound, nil, "no such session")
	}
	return nil
}

// DeleteSession deletes session idHash; deleting a missing one succeeds.
func (db *DB) DeleteSession(ctx context.Context, idHash string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, idHash)
	return dbError("postgres.DeleteSession", err, "", "")
}

// PurgeSessions deletes the sessions that expired by now, were last used
// before idleBefore, or whose token is revoked, and returns how many.
func (db *DB) PurgeSessions(ctx context.Context, now, idleBefore time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1 OR seen_at < $2
		OR token_id IN (SELECT id FROM tokens WHERE revoked_at IS NOT NULL)`, now, idleBefore)
	if err != nil {
		return 0, dbError("postgres.PurgeSessions", err, "", "")
	}
	return tag.RowsAffected(), nil
}
