package jobadmin_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob/disk"
	"github.com/zoo-bioimage/zoo/jobadmin"
	"github.com/zoo-bioimage/zoo/queue"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/sqlite"
	"github.com/zoo-bioimage/zoo/web"
)

// The admin API: only admins (401 anonymous, 403 others); bounded and
// checked parameters; a listing with the operator's fields; retry and
// cancel by id; check on an empty instance finds nothing.
func TestAdminRoutes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "zoo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := disk.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := db.Queue(queue.Options{Routes: map[string]string{"parked": "nobody"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	svc := repo.New(db, blobs, q, repo.Config{})
	tools := &jobadmin.Tools{Queue: q, Repo: svc}
	users := map[string]*zoo.User{"admin": {ID: 1, Name: "ada", Role: zoo.RoleAdmin}, "rev": {ID: 2, Name: "rita", Role: zoo.RoleReviewer}}
	h := web.New(svc, web.Options{Routes: tools.Routes(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Users: func(ctx context.Context, tok string) (*zoo.User, error) {
			if u, ok := users[tok]; ok {
				return u, nil
			}
			return nil, zoo.E("test", zoo.NotFound, nil, "unknown token")
		}})
	do := func(method, path, tok string) (int, string) {
		req := httptest.NewRequest(method, path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	id, err := q.Enqueue(ctx, "parked", map[string]any{"id": "shy-owl", "version": 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method, path, tok string
		want              int
	}{
		{"GET", "/api/v1/admin/jobs", "", http.StatusUnauthorized},
		{"GET", "/api/v1/admin/jobs", "rev", http.StatusForbidden},
		{"GET", "/api/v1/admin/check", "rev", http.StatusForbidden},
		{"POST", "/api/v1/admin/jobs/1/retry", "", http.StatusUnauthorized},
		{"GET", "/api/v1/admin/jobs?limit=0", "admin", http.StatusBadRequest},
		{"GET", "/api/v1/admin/jobs?limit=100000", "admin", http.StatusBadRequest},
		{"GET", "/api/v1/admin/jobs?state=stuck", "admin", http.StatusBadRequest},
		{"GET", "/api/v1/admin/jobs?kind=" + strings.Repeat("k", 200), "admin", http.StatusBadRequest},
		{"POST", "/api/v1/admin/jobs/-1/retry", "admin", http.StatusBadRequest},
		{"POST", "/api/v1/admin/jobs/x/cancel", "admin", http.StatusBadRequest},
		{"POST", "/api/v1/admin/jobs/999999/cancel", "admin", http.StatusNotFound},
		{"POST", "/api/v1/admin/models/shy-owl/versions/0/retest", "admin", http.StatusBadRequest},
		{"POST", "/api/v1/admin/models/shy-owl/versions/1/retest", "admin", http.StatusNotFound},
	} {
		if code, body := do(c.method, c.path, c.tok); code != c.want {
			t.Errorf("%s %s as %q: %d %s, want %d", c.method, c.path, c.tok, code, body, c.want)
		}
	}
	code, body := do("GET", "/api/v1/admin/jobs?state=unfinished&kind=parked", "admin")
	var a jobadmin.ListAnswer
	if err := json.Unmarshal([]byte(body), &a); code != 200 || err != nil || len(a.Jobs) != 1 || a.Jobs[0].ID != id || a.Jobs[0].Version != "shy-owl/2" || a.Jobs[0].Queue != "nobody" {
		t.Fatalf("list: %d %s", code, body)
	}
	code, body = do("POST", "/api/v1/admin/jobs/"+jsonNum(id)+"/cancel", "admin")
	if code != 200 || !strings.Contains(body, `"state":"cancelled"`) {
		t.Errorf("cancel: %d %s", code, body)
	}
	code, body = do("POST", "/api/v1/admin/jobs/"+jsonNum(id)+"/retry", "admin")
	if code != 200 || !strings.Contains(body, `"state":"available"`) {
		t.Errorf("retry: %d %s", code, body)
	}
	code, body = do("GET", "/api/v1/admin/check", "admin")
	if code != 200 || !strings.Contains(body, `"problems":[]`) {
		t.Errorf("check: %d %s", code, body)
	}
}

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }
