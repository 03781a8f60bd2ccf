package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/testenv"
	"github.com/zoo-bioimage/zoo/web"
)

// servedOpenAPI is the OpenAPI document a server with every feature
// serves.
func servedOpenAPI(t *testing.T) []byte {
	t.Helper()
	ctx := context.Background()
	st, err := openStorage(ctx, storageFlags{data: t.TempDir()}, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_, env, err := serveOnly(ctx, st, slog.New(slog.NewTextHandler(io.Discard, nil)), "")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := webOptions(env)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	web.New(env.svc, opts).ServeHTTP(rec, httptest.NewRequest("GET", "/api/openapi.json", nil))
	if rec.Code != 200 {
		t.Fatalf("openapi.json: %d", rec.Code)
	}
	return rec.Body.Bytes()
}

// Every operation of the served document (core and features) has a
// unique operationId, and a JSON response is not described as a string.
func TestOpenAPIOperations(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(servedOpenAPI(t), &doc); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for p, ops := range doc.Paths {
		for m, raw := range ops {
			switch m {
			case "get", "head", "post", "put", "patch", "delete":
			default:
				continue
			}
			var op struct {
				OperationID string `json:"operationId"`
				Responses   map[string]struct {
					Content map[string]struct {
						Schema map[string]any `json:"schema"`
					} `json:"content"`
				} `json:"responses"`
			}
			json.Unmarshal(raw, &op)
			where := strings.ToUpper(m) + " " + p
			if op.OperationID == "" {
				t.Errorf("%s has no operationId", where)
			} else if other, dup := ids[op.OperationID]; dup {
				t.Errorf("operationId %s of %s is also %s's", op.OperationID, where, other)
			}
			ids[op.OperationID] = where
			for code, r := range op.Responses {
				for ct, c := range r.Content {
					if strings.HasSuffix(ct, "json") && c.Schema["type"] == "string" {
						t.Errorf("%s %s: %s documented as a string", where, code, ct)
					}
				}
			}
		}
	}
}

// TestOpenAPILint lints the served document with Redocly's OpenAPI
// linter (the npm package @redocly/cli, its "recommended" rules). It
// needs a folder with node_modules/@redocly/cli named by ZOO_TEST_NPM
// (scripts/install-test-clients.sh; .ci/run sets it); without one it
// skips (fails under CI and make test: internal/testenv).
func TestOpenAPILint(t *testing.T) {
	dir := testenv.NeedNPM(t, "ZOO_TEST_NPM", "@redocly/cli", ".bin/redocly")
	bin := filepath.Join(dir, "node_modules", ".bin", "redocly")

	work := t.TempDir()
	file := filepath.Join(work, "openapi.json")
	if err := os.WriteFile(file, servedOpenAPI(t), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "lint", "--format", "stylish", file)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("redocly lint: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
