package postgres

import (
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo/challenge"
	"github.com/zoo-bioimage/zoo/challenge/challengetest"
	"github.com/zoo-bioimage/zoo/postgres/pgtest"
)

func TestChallenges(t *testing.T) {
	challengetest.Run(t, func(t *testing.T) challenge.Store { return open(t).Challenges() })
}

// Migration 0007 upgrades a database made before it: existing submissions
// are neither withdrawn nor disqualified and can be withdrawn; challenges
// can be edited.
func TestChallengeMigration0007(t *testing.T) {
	dsn := pgtest.DSN(t)
	db, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	c, data := challengetest.Example("old")
	st := db.Challenges()
	if err := st.CreateChallenge(ctx, c, data); err != nil {
		t.Fatal(err)
	}
	sub := &challenge.Submission{ChallengeID: c.ID, Phase: "final", UserID: 1, User: "u", Kind: challenge.KindModel, Model: "m/1",
		Status: challenge.StatusQueued, CreatedAt: c.CreatedAt}
	if err := st.AddSubmission(ctx, sub, nil, challenge.Limit{PerDay: 9, Total: 9}); err != nil {
		t.Fatal(err)
	}
	// Back to the schema before 0007.
	if _, err := db.pool.Exec(ctx, `DROP TABLE challenge_changes;
		ALTER TABLE challenge_submissions DROP COLUMN withdrawn_at, DROP COLUMN dq_reason, DROP COLUMN dq_by, DROP COLUMN dq_at;
		DELETE FROM schema_migrations WHERE version = 7`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err = Open(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st = db.Challenges()
	got, err := st.Submission(ctx, sub.ID)
	if err != nil || got.WithdrawnAt != nil || got.Disqualified != nil || got.Model != "m/1" {
		t.Fatalf("an old submission after 0007: %v %+v", err, got)
	}
	if err := st.WithdrawSubmission(ctx, sub.ID, time.Now()); err != nil {
		t.Error(err)
	}
	if err := st.UpdateChallenge(ctx, c, challenge.Change{User: "olga", At: time.Now(), Fields: []string{"title"}}, 0, false); err != nil {
		t.Error(err)
	}
}
