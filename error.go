package zoo

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
)

// Kind classifies an error so that every edge (CLI exit codes, HTTP status
// codes) can translate it in one table.
type Kind int

// Error kinds. Keep the list short: a new kind needs a row in every table
// that maps kinds (cmd/zoo exit codes, web status codes).
const (
	Internal     Kind = iota // a bug or an unexpected failure of a dependency
	Invalid                  // the caller's input is wrong; the message says how
	NotFound                 // the named thing does not exist
	Conflict                 // the request clashes with the current state
	NotSupported             // a valid request zoo cannot carry out (e.g. a weight format)
	TooLarge                 // input exceeds a configured limit
	Unauthorized             // no or bad credentials
	Forbidden                // credentials are fine but not allowed to do this
	Unavailable              // try again later (overload, shutting down)
)

func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case NotFound:
		return "not found"
	case Conflict:
		return "conflict"
	case NotSupported:
		return "not supported"
	case TooLarge:
		return "too large"
	case Unauthorized:
		return "unauthorized"
	case Forbidden:
		return "forbidden"
	case Unavailable:
		return "unavailable"
	}
	return "internal error"
}

// Error is zoo's error type. Message is safe to show to users and says what
// was wrong and, where possible, what to do; Err is the wrapped cause, for
// logs and errors.Is/As.
type Error struct {
	Op      string // operation that failed, e.g. "npy.Read"
	Kind    Kind
	Message string
	Err     error
}

// E builds an *Error. Message may use fmt verbs with args.
func E(op string, kind Kind, err error, format string, args ...any) *Error {
	return &Error{Op: op, Kind: kind, Err: err, Message: fmt.Sprintf(format, args...)}
}

// notSupported prefixes the messages of NotSupported errors, once (a
// message that already says it, or wraps one that does, is not prefixed
// again).
const notSupported = "not supported: "

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	} else if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Kind == NotSupported && msg != "" && !strings.HasPrefix(msg, notSupported) {
		msg = notSupported + msg
	}
	if e.Op != "" {
		return e.Op + ": " + msg
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// MessageOf returns the user-safe message of the first *Error in err's chain,
// or a generic text for errors that are not zoo errors.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		if e.Kind == NotSupported && !strings.HasPrefix(e.Message, notSupported) {
			return notSupported + e.Message
		}
		return e.Message
	}
	return "internal error"
}

// Unreachable reports whether err's chain shows that a service over the
// network (the PostgreSQL server, the S3 endpoint) could not be reached or
// dropped the connection: a refused, reset or timed-out connection, an
// unreachable host or network, a failed dial or name lookup. Such an
// error is an outage — try again later — not a bug, wherever it was
// wrapped as Internal; the edges (web's status table, the storage
// backends) map it to Unavailable.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	for _, errno := range []syscall.Errno{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED,
		syscall.EPIPE, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ETIMEDOUT} {
		if errors.Is(err, errno) {
			return true
		}
	}
	var op *net.OpError
	if errors.As(err, &op) && (op.Op == "dial" || op.Timeout()) {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}
