package zoo

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
)

// A NotSupported message says "not supported:" once, whether or not its
// author wrote it too (the jobs API said "not supported: not supported: …").
func TestNotSupportedPrefixOnce(t *testing.T) {
	for _, msg := range []string{"jobs run models with one input", "not supported: jobs run models with one input"} {
		e := E("infer.runnable", NotSupported, nil, "%s", msg)
		if got, want := MessageOf(e), "not supported: jobs run models with one input"; got != want {
			t.Errorf("MessageOf(%q) = %q, want %q", msg, got, want)
		}
		if got, want := e.Error(), "infer.runnable: not supported: jobs run models with one input"; got != want {
			t.Errorf("Error(%q) = %q, want %q", msg, got, want)
		}
	}
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, dialErr := net.Dial("tcp", addr) // nothing listens: connection refused
	if dialErr == nil {
		t.Fatal("dial to a closed port succeeded")
	}
	wrapped := E("postgres.UserByID", Internal, fmt.Errorf("failed to connect: %w", dialErr), "")
	for _, c := range []struct {
		err  error
		want bool
	}{
		{dialErr, true},
		{wrapped, true},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{E("x", Internal, errors.New("syntax error at or near"), ""), false},
		{io.ErrUnexpectedEOF, false},
		{nil, false},
	} {
		if got := Unreachable(c.err); got != c.want {
			t.Errorf("Unreachable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
