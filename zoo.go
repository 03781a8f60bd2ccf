// Package zoo holds the domain nouns of the zoo model repository (models,
// versions, files, users, tokens, audit entries), the service interfaces the
// storage backends implement, and the one error type every layer uses.
//
// Implementations live in subpackages named after what they depend on
// (sqlite, postgres, blob/disk, blob/s3, onnx, …); this package depends on
// none of them. See docs/architecture.md for the map.
package zoo

import (
	"context"
	"encoding/json"
	"io"
	"time"
)

// Role is what a user may do. Roles are ordered: an admin can do what a
// reviewer can, a reviewer what a contributor can.
type Role string

// Roles.
const (
	RoleContributor Role = "contributor" // uploads models, publishes new versions of their own
	RoleReviewer    Role = "reviewer"    // accepts, requests changes, rejects (never their own upload)
	RoleAdmin       Role = "admin"       // manages users and tokens, retires versions
)

// Rank orders roles (0 for an unknown role).
func (r Role) Rank() int {
	switch r {
	case RoleContributor:
		return 1
	case RoleReviewer:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// User is an account.
type User struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// Token is an API token. Only the SHA-256 of the secret is stored. Its
// name is unique among its user's active tokens (tokens are listed and
// revoked by name); one past ExpiresAt no longer authenticates. LastUsedAt
// is recorded at most once a minute.
type Token struct {
	ID         int64      `json:"id"`
	UserID     int64      `json:"user_id"`
	Name       string     `json:"name"`
	Hash       string     `json:"-"` // hex sha256 of the secret
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// Session is a web page login (package session): made with an API token,
// it ends at ExpiresAt, when deleted, or when that token is revoked. Only
// the SHA-256 of the cookie's secret id is stored.
type Session struct {
	IDHash    string    // hex sha256 of the cookie's session id
	TokenHash string    // hex sha256 of the API token the session was made with
	UserID    int64     // the token's user (set by the store)
	CSRF      string    // the session's CSRF token
	CreatedAt time.Time //
	SeenAt    time.Time // last use (updated at most every few minutes)
	ExpiresAt time.Time
}

// State is where a version is in its life.
type State string

// Version states. A version moves draft → submitted → (changes-requested →
// submitted)* → published | rejected; published → retired. Published and
// retired versions are immutable.
const (
	StateDraft            State = "draft"
	StateSubmitted        State = "submitted"
	StateChangesRequested State = "changes-requested"
	StatePublished        State = "published"
	StateRejected         State = "rejected"
	StateRetired          State = "retired"
)

// Public reports whether versions in this state are visible to everyone.
func (s State) Public() bool { return s == StatePublished || s == StateRetired }

// TestStatus is the outcome of the reproducibility test job.
type TestStatus string

// Test statuses.
const (
	TestPending      TestStatus = "pending"
	TestPassed       TestStatus = "passed"
	TestFailed       TestStatus = "failed"
	TestNotSupported TestStatus = "not-supported" // no weight format zoo can run
)

// Model is a concept: all versions under one persistent id.
type Model struct {
	ID          string    `json:"id"`   // adjective-animal nickname, never reused
	Type        string    `json:"type"` // model, dataset, …
	OwnerID     int64     `json:"owner_id"`
	Maintainers []int64   `json:"maintainers"` // user ids allowed to add versions
	Downloads   int64     `json:"downloads"`
	CreatedAt   time.Time `json:"created_at"`
}

// File is one file of a version's package, stored by content.
type File struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Version is one numbered, eventually immutable version of a model.
type Version struct {
	ModelID          string          `json:"id"`
	Number           int             `json:"version"`
	State            State           `json:"state"`
	TestStatus       TestStatus      `json:"test_status"`
	UploaderID       int64           `json:"uploader_id"`
	Name             string          `json:"name"`
	Description      string          `json:"description"`
	FormatVersion    string          `json:"format_version"`
	DescriptionFile  string          `json:"description_file"` // path of the yaml in Files
	Files            []File          `json:"files"`
	PackageSHA256    string          `json:"package_sha256"` // the deterministic zip
	PackageSize      int64           `json:"package_size"`
	ValidationReport json.RawMessage `json:"validation_report,omitempty"`
	TestReport       json.RawMessage `json:"test_report,omitempty"`
	ReviewComment    string          `json:"review_comment,omitempty"`
	RetiredReason    string          `json:"retired_reason,omitempty"`
	Downloads        int64           `json:"downloads"`
	CreatedAt        time.Time       `json:"created_at"`
	PublishedAt      *time.Time      `json:"published_at,omitempty"`
	// Converted is what zoo made from the version's pytorch_state_dict
	// weights so that it runs (nil: nothing to convert). The uploaded
	// files and package above never change; the converted ones are blobs
	// beside them.
	Converted *Conversion `json:"converted,omitempty"`
}

// Conversion statuses. A version whose weights zoo can convert but not run
// is "waiting" from its upload until a worker with a converter (PyTorch
// and bubblewrap) has run; then "converted" (every format added),
// "partial" (some) or "failed" (none; Message says why).
const (
	ConversionWaiting   = "waiting"
	ConversionConverted = "converted"
	ConversionPartial   = "partial"
	ConversionFailed    = "failed"
)

// Conversion records the weights zoo converted for a version, with their
// provenance. Description is the runnable description (the uploaded one
// with the converted weights entries added, at the version's
// DescriptionFile path); Files are the converted weights files, at paths
// beside the uploaded files; Package is the deterministic zip of the
// runnable package (uploaded files, converted files, runnable
// description). Report is the converter's JSON report (each format's
// method and reproduction test).
type Conversion struct {
	Status       string            `json:"status"`
	Message      string            `json:"message,omitempty"`
	Formats      []ConvertedFormat `json:"formats,omitempty"`
	Description  *File             `json:"description,omitempty"`
	Files        []File            `json:"files,omitempty"`
	Package      *File             `json:"package,omitempty"`
	ZooVersion   string            `json:"zoo_version,omitempty"`
	TorchVersion string            `json:"torch_version,omitempty"`
	Report       json.RawMessage   `json:"report,omitempty"`
	At           *time.Time        `json:"converted_at,omitempty"`
}

// ConvertedFormat is one weight format zoo added: its file in the
// runnable package and how it was made (method "script" or "trace"; the
// ONNX opset).
type ConvertedFormat struct {
	Format string `json:"format"`
	Path   string `json:"path"`
	Method string `json:"method,omitempty"`
	Opset  int    `json:"opset,omitempty"`
}

// Blobs lists the blob keys c refers to (its files, description and
// package).
func (c *Conversion) Blobs() []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, f := range c.Files {
		out = append(out, f.SHA256)
	}
	for _, f := range []*File{c.Description, c.Package} {
		if f != nil {
			out = append(out, f.SHA256)
		}
	}
	return out
}

// AuditEntry records one state change or privileged action.
type AuditEntry struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	ActorID int64     `json:"actor_id"`
	Action  string    `json:"action"` // e.g. "upload", "accept", "token.create"
	ModelID string    `json:"model_id,omitempty"`
	Version int       `json:"version,omitempty"`
	Detail  string    `json:"detail,omitempty"`
}

// VersionFilter selects versions for listings.
type VersionFilter struct {
	ModelID    string  // "" = any model
	States     []State // empty = any state
	UploaderID int64   // 0 = any uploader
	Limit      int     // 0 = all
}

// Catalog is the metadata store. Implementations (sqlite, postgres) pass
// the same conformance suite (catalogtest). Every method is atomic; errors
// carry a Kind (NotFound, Conflict, …).
type Catalog interface {
	CreateUser(ctx context.Context, name string, role Role) (*User, error)
	UserByName(ctx context.Context, name string) (*User, error)
	UserByID(ctx context.Context, id int64) (*User, error)
	SetRole(ctx context.Context, userID int64, role Role) error

	// CreateToken stores a token named token-ID without expiry.
	CreateToken(ctx context.Context, userID int64, hash string) (*Token, error)
	// CreateNamedToken stores a token with a name (catalog.CheckTokenName;
	// Conflict if the user has an active token of that name) and an
	// optional expiry.
	CreateNamedToken(ctx context.Context, userID int64, hash, name string, expiresAt *time.Time) (*Token, error)
	// UserByToken returns the user of an unrevoked, unexpired token and
	// records its use.
	UserByToken(ctx context.Context, hash string) (*User, error)
	RevokeToken(ctx context.Context, hash string) error
	// Tokens lists a user's tokens, revoked ones too, newest first.
	Tokens(ctx context.Context, userID int64) ([]Token, error)
	// RevokeTokenByName revokes the user's active token of that name and
	// returns it (NotFound if there is none).
	RevokeTokenByName(ctx context.Context, userID int64, name string) (*Token, error)

	// CreateModel reserves m.ID (Conflict if it was ever used) and stores m
	// without versions (for administration and tests; uploads create a
	// model with its first version through CreateVersion).
	CreateModel(ctx context.Context, m *Model) error
	Model(ctx context.Context, id string) (*Model, error)
	ListModels(ctx context.Context, publishedOnly bool) ([]*Model, error)

	// CreateVersion stores v with the next number of its model (set in v)
	// and appends the audit entry e (Action required; ModelID and Version
	// are set from v, At defaults to now) in one transaction. With m not
	// nil, v is the first version of the new model m: m is created as by
	// CreateModel (its id reserved for ever; Conflict if it was ever used)
	// in the same transaction, so that a model never exists without the
	// version it was made for. On any error nothing is stored.
	CreateVersion(ctx context.Context, m *Model, v *Version, e AuditEntry) error
	Version(ctx context.Context, id string, n int) (*Version, error)
	// LatestPublished returns the highest-numbered published (or retired,
	// when no published one exists) version.
	LatestPublished(ctx context.Context, id string) (*Version, error)
	ListVersions(ctx context.Context, f VersionFilter) ([]*Version, error)
	// Transition moves a version from one of from to to, recording the audit
	// entry in the same transaction; Conflict if its state is not in from.
	Transition(ctx context.Context, id string, n int, from []State, to State, e AuditEntry) error
	SetTestResult(ctx context.Context, id string, n int, status TestStatus, report json.RawMessage) error
	// SetConversion records (or, with c nil, clears) the conversion of a
	// version, whatever its state: the uploaded files stay as they are.
	SetConversion(ctx context.Context, id string, n int, c *Conversion) error
	CountDownload(ctx context.Context, id string, n int) error

	Audit(ctx context.Context, modelID string, limit int) ([]AuditEntry, error)
	AddAudit(ctx context.Context, e AuditEntry) error
	// ReferencedBlobs calls fn for every blob key any version refers to
	// (its files, its package, and its conversion's blobs).
	ReferencedBlobs(ctx context.Context, fn func(sha256 string) error) error
	Close() error
}

// BlobStore stores bytes by their SHA-256 (lower-case hex). Implementations
// (blob/disk, blob/s3) pass the same conformance suite (blob/blobtest).
type BlobStore interface {
	// Put stores r and returns its sha256 and size. Writing is atomic: a
	// blob is visible under its key only when complete. Putting existing
	// content is cheap and succeeds.
	Put(ctx context.Context, r io.Reader) (sha256 string, size int64, err error)
	// Open returns the blob for reading with seeking (Range requests).
	Open(ctx context.Context, sha256 string) (Blob, error)
	Stat(ctx context.Context, sha256 string) (int64, error)
	Delete(ctx context.Context, sha256 string) error
	// Walk calls fn for every stored blob, in no particular order.
	Walk(ctx context.Context, fn func(sha256 string, size int64) error) error
}

// Blob is an open blob.
type Blob interface {
	io.ReadSeekCloser
	Size() int64
}
