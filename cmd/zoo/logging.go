package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
)

// Log settings (docs/deploy.md lists them with every other setting).
const (
	// logFormatEnv chooses the log format of serve and worker: "text"
	// (default, slog's key=value lines) or "json" (one JSON object a line).
	logFormatEnv = "ZOO_LOG_FORMAT"
	// logLevelEnv is the lowest level logged: debug, info (default), warn,
	// error.
	logLevelEnv = "ZOO_LOG_LEVEL"
	// instanceEnv names this process in every log line (default
	// HOSTNAME-RANDOM, new at each start).
	instanceEnv = "ZOO_INSTANCE"
)

// repeatWindow is how long identical ERROR lines are folded into one
// "repeated N times" line.
const repeatWindow = time.Minute

// newLogger is the structured log of a long-running command (serve,
// worker, mcp): one format for every line, with the process's role (the
// command's name) and an instance id, and repeated identical ERROR lines
// folded (see repeatHandler).
func newLogger(cmd *cobra.Command) *slog.Logger {
	log, err := processLogger(cmd.ErrOrStderr(), cmd.Name(), os.Getenv(logFormatEnv), os.Getenv(logLevelEnv), os.Getenv(instanceEnv))
	if err != nil {
		// A wrong setting must not stop the service; say so in the log.
		log.Warn("ignoring a log setting", "err", err.Error())
	}
	slog.SetDefault(log) // packages that log to slog.Default() get the same lines
	if ctx := cmd.Context(); ctx != nil {
		flushLogEvery(ctx, log)
	}
	return log
}

// processLogger builds the logger newLogger describes, writing to w. An
// unknown format or level is reported in err and replaced by the default
// (the logger is always usable).
func processLogger(w io.Writer, role, format, level, instance string) (*slog.Logger, error) {
	var errs []string
	lv := slog.LevelInfo
	if level != "" {
		if err := lv.UnmarshalText([]byte(level)); err != nil {
			errs = append(errs, fmt.Sprintf("%s=%q: use debug, info, warn or error", logLevelEnv, level))
			lv = slog.LevelInfo
		}
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	switch strings.ToLower(format) {
	case "", "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		errs = append(errs, fmt.Sprintf("%s=%q: use text or json", logFormatEnv, format))
		h = slog.NewTextHandler(w, opts)
	}
	if instance == "" {
		instance = newInstanceID()
	}
	h = newRepeatHandler(h, repeatWindow, time.Now).WithAttrs([]slog.Attr{slog.String("role", role), slog.String("instance", instance)})
	var err error
	if len(errs) > 0 {
		err = fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return slog.New(h), err
}

// newInstanceID is HOSTNAME-XXXXXX: the host, and 6 random hex digits that
// tell apart processes (and restarts) on one host.
func newInstanceID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "zoo"
	}
	b := make([]byte, 3)
	rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

// repeatHandler folds repeated identical ERROR records: the first is
// written; the same error again within the window is counted, not
// written; when the window of a folded error ends (at the next record of
// any kind, or at the next Flush), one line "repeated N times" says how
// many were left out, with the original message and error. Records below
// ERROR pass through.
//
// Records are identical when they have the same message and, if they
// carry an "err" (or "error") attribute, the same error; records without
// one must agree on every attribute except those that differ between
// events of one cause (request_id, method, path, remote, client,
// duration, took, attempt, bytes). So an outage that fails every request
// with "connection refused" logs one line per window, not three a second.
type repeatHandler struct {
	next  slog.Handler
	attrs []slog.Attr // from WithAttrs, part of the key
	st    *repeatState
}

type repeatState struct {
	mu     sync.Mutex
	window time.Duration
	now    func() time.Time
	seen   map[string]*repeated
	next   slog.Handler // the handler the summaries are written to (without group)
}

type repeated struct {
	first   time.Time
	count   int // folded since first
	msg     string
	errText string
	h       slog.Handler // the handler (with its attrs) the error came through
}

// maxRepeatKeys bounds the folded-error table; beyond, it is flushed.
const maxRepeatKeys = 1024

var volatileLogKeys = map[string]bool{
	"request_id": true, "method": true, "path": true, "remote": true, "client": true,
	"duration": true, "took": true, "attempt": true, "bytes": true, "query": true, "user": true,
}

func newRepeatHandler(next slog.Handler, window time.Duration, now func() time.Time) *repeatHandler {
	return &repeatHandler{next: next, st: &repeatState{window: window, now: now, seen: map[string]*repeated{}, next: next}}
}

func (h *repeatHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *repeatHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &repeatHandler{next: h.next.WithAttrs(as), attrs: append(append([]slog.Attr{}, h.attrs...), as...), st: h.st}
}

func (h *repeatHandler) WithGroup(name string) slog.Handler {
	return &repeatHandler{next: h.next.WithGroup(name), attrs: h.attrs, st: h.st}
}

func (h *repeatHandler) Handle(ctx context.Context, r slog.Record) error {
	now := h.st.now()
	h.flush(ctx, now, false)
	if r.Level < slog.LevelError {
		return h.next.Handle(ctx, r)
	}
	key, errText := h.key(r)
	h.st.mu.Lock()
	if e, ok := h.st.seen[key]; ok {
		e.count++
		h.st.mu.Unlock()
		return nil
	}
	if len(h.st.seen) >= maxRepeatKeys {
		h.st.mu.Unlock()
		h.flush(ctx, now, true)
		h.st.mu.Lock()
	}
	h.st.seen[key] = &repeated{first: now, msg: r.Message, errText: errText, h: h.next}
	h.st.mu.Unlock()
	return h.next.Handle(ctx, r)
}

// Flush writes the summaries of the folded errors whose window has ended
// (all of them with all); a process calls it periodically so that a
// summary does not wait for the next log line.
func (h *repeatHandler) Flush(all bool) { h.flush(context.Background(), h.st.now(), all) }

func (h *repeatHandler) flush(ctx context.Context, now time.Time, all bool) {
	h.st.mu.Lock()
	var due []*repeated
	for k, e := range h.st.seen {
		if all || now.Sub(e.first) >= h.st.window {
			delete(h.st.seen, k)
			if e.count > 0 {
				due = append(due, e)
			}
		}
	}
	h.st.mu.Unlock()
	sort.Slice(due, func(i, j int) bool { return due[i].first.Before(due[j].first) })
	for _, e := range due {
		r := slog.NewRecord(now, slog.LevelError, e.msg+" (repeated)", 0)
		r.AddAttrs(slog.Int("repeated", e.count), slog.Time("since", e.first))
		if e.errText != "" {
			r.AddAttrs(slog.String("err", e.errText))
		}
		e.h.Handle(ctx, r)
	}
}

// key identifies a record for folding; errText is its error, if any.
func (h *repeatHandler) key(r slog.Record) (key, errText string) {
	var b strings.Builder
	b.WriteString(r.Message)
	var rest []string
	add := func(a slog.Attr) {
		v := a.Value.Resolve().String()
		if a.Key == "err" || a.Key == "error" {
			errText = v
			return
		}
		if !volatileLogKeys[a.Key] {
			rest = append(rest, a.Key+"="+v)
		}
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(func(a slog.Attr) bool { add(a); return true })
	if errText != "" {
		b.WriteString("\x00err=" + errText)
	} else {
		for _, s := range rest {
			b.WriteString("\x00" + s)
		}
	}
	return b.String(), errText
}

// flushLogEvery calls Flush on log's repeat handler every window until ctx
// ends (and once more then), so that "repeated N times" lines come out
// even when nothing else is logged.
func flushLogEvery(ctx context.Context, log *slog.Logger) {
	h, ok := log.Handler().(*repeatHandler)
	if !ok {
		return
	}
	go func() {
		t := time.NewTicker(h.st.window)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				h.Flush(true)
				return
			case <-t.C:
				h.Flush(false)
			}
		}
	}()
}
