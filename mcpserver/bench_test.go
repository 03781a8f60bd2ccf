package mcpserver

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/zoo-bioimage/zoo/web"
)

// benchSession is a client session to a rig's server, over the
// in-memory transport or streamable HTTP behind web.
func benchSession(b *testing.B, overHTTP bool) (*rig, *mcp.ClientSession) {
	b.Helper()
	r := newRigTB(b)
	if !overHTTP {
		st, ct := mcp.NewInMemoryTransports()
		ss, err := r.srv.Server(nil).Connect(context.Background(), st, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ss.Close() })
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil).Connect(context.Background(), ct, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cs.Close() })
		return r, cs
	}
	h := r.srv.Handler()
	srv := httptest.NewServer(web.New(r.env.Svc, web.Options{Logger: slog.New(slog.DiscardHandler), Routes: []web.Route{{Pattern: "POST /mcp", Auth: true, Handler: h}, {Pattern: "GET /mcp", Auth: true, Handler: h}}}))
	b.Cleanup(srv.Close)
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil).Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: srv.URL + "/mcp"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cs.Close() })
	return r, cs
}

func benchCall(b *testing.B, overHTTP bool, name string, args func(r *rig) map[string]any) {
	r, cs := benchSession(b, overHTTP)
	a := args(r)
	b.ResetTimer()
	for b.Loop() {
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: a})
		if err != nil || res.IsError {
			b.Fatalf("%v %v", err, res)
		}
	}
}

func BenchmarkSearchModels(b *testing.B) {
	for _, overHTTP := range []bool{false, true} {
		b.Run(map[bool]string{false: "memory", true: "http"}[overHTTP], func(b *testing.B) {
			benchCall(b, overHTTP, "search_models", func(*rig) map[string]any { return map[string]any{"query": "nuclei"} })
		})
	}
}

func BenchmarkDescribeModel(b *testing.B) {
	for _, overHTTP := range []bool{false, true} {
		b.Run(map[bool]string{false: "memory", true: "http"}[overHTTP], func(b *testing.B) {
			benchCall(b, overHTTP, "describe_model", func(r *rig) map[string]any { return map[string]any{"model": r.nuclei.ModelID} })
		})
	}
}
