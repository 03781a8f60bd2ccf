// Input checks and defaults shared by the Catalog implementations.

package catalog

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
)

// Now is the time implementations stamp records with: UTC, truncated to
// microseconds.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Stamp returns t in the stored form (UTC, microseconds), or Now() when t is
// zero.
func Stamp(t time.Time) time.Time {
	if t.IsZero() {
		return Now()
	}
	return t.UTC().Truncate(time.Microsecond)
}

// CheckUserName rejects empty names and names with surrounding spaces.
func CheckUserName(op, name string) error {
	if name == "" || strings.TrimSpace(name) != name {
		return zoo.E(op, zoo.Invalid, nil, "user name %q is empty or has surrounding spaces", name)
	}
	return nil
}

// CheckRole rejects roles other than contributor, reviewer and admin.
func CheckRole(op string, r zoo.Role) error {
	if r.Rank() == 0 {
		return zoo.E(op, zoo.Invalid, nil, "unknown role %q (want contributor, reviewer or admin)", r)
	}
	return nil
}

// States lists every version state.
var States = []zoo.State{zoo.StateDraft, zoo.StateSubmitted, zoo.StateChangesRequested,
	zoo.StatePublished, zoo.StateRejected, zoo.StateRetired}

// CheckState rejects unknown version states.
func CheckState(op string, s zoo.State) error {
	for _, k := range States {
		if s == k {
			return nil
		}
	}
	return zoo.E(op, zoo.Invalid, nil, "unknown version state %q", s)
}

// CheckTestStatus rejects unknown test statuses.
func CheckTestStatus(op string, s zoo.TestStatus) error {
	switch s {
	case zoo.TestPending, zoo.TestPassed, zoo.TestFailed, zoo.TestNotSupported:
		return nil
	}
	return zoo.E(op, zoo.Invalid, nil, "unknown test status %q", s)
}

// CheckJSON accepts an empty report (stored as NULL) or valid JSON.
func CheckJSON(op, what string, raw json.RawMessage) error {
	if len(raw) > 0 && !json.Valid(raw) {
		return zoo.E(op, zoo.Invalid, nil, "%s is not valid JSON", what)
	}
	return nil
}

// PrepareModel checks m and fills its defaults: Type "model" when empty,
// CreatedAt, and Maintainers without duplicates in ascending order (never
// nil, so it encodes as []).
func PrepareModel(op string, m *zoo.Model) error {
	if m.ID == "" || strings.ContainsAny(m.ID, " \t\r\n/") {
		return zoo.E(op, zoo.Invalid, nil, "model id %q is empty or has spaces or slashes", m.ID)
	}
	if m.Type == "" {
		m.Type = "model"
	}
	m.Maintainers = SortedIDs(m.Maintainers)
	m.CreatedAt = Stamp(m.CreatedAt)
	return nil
}

// SortedIDs returns ids without duplicates in ascending order (never nil).
func SortedIDs(ids []int64) []int64 {
	out := make([]int64, 0, len(ids))
	seen := make(map[int64]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// PrepareVersion checks v and fills its defaults before it is stored: State
// draft and TestStatus pending when empty, CreatedAt, PublishedAt for a
// version created published, Files never nil and sorted by path. Number and
// Downloads are the store's to set.
func PrepareVersion(op string, v *zoo.Version) error {
	if v.ModelID == "" {
		return zoo.E(op, zoo.Invalid, nil, "version has no model id")
	}
	if v.State == "" {
		v.State = zoo.StateDraft
	}
	if err := CheckState(op, v.State); err != nil {
		return err
	}
	if v.TestStatus == "" {
		v.TestStatus = zoo.TestPending
	}
	if err := CheckTestStatus(op, v.TestStatus); err != nil {
		return err
	}
	if err := CheckJSON(op, "validation report", v.ValidationReport); err != nil {
		return err
	}
	if err := CheckJSON(op, "test report", v.TestReport); err != nil {
		return err
	}
	if v.Files == nil {
		v.Files = []zoo.File{}
	}
	seen := make(map[string]bool, len(v.Files))
	for _, f := range v.Files {
		if f.Path == "" || seen[f.Path] {
			return zoo.E(op, zoo.Invalid, nil, "file path %q is empty or listed twice", f.Path)
		}
		seen[f.Path] = true
	}
	SortFiles(v.Files)
	v.CreatedAt = Stamp(v.CreatedAt)
	if v.PublishedAt != nil {
		t := Stamp(*v.PublishedAt)
		v.PublishedAt = &t
	} else if v.State == zoo.StatePublished || v.State == zoo.StateRetired {
		t := v.CreatedAt
		v.PublishedAt = &t
	}
	v.Downloads = 0
	return nil
}

// PrepareCreateVersion checks the arguments of Catalog.CreateVersion and
// fills their defaults: m (if not nil) as PrepareModel, with v.ModelID
// defaulting to m.ID and required to equal it; v as PrepareVersion; the
// audit entry's ModelID from v and At from now. The entry needs an
// Action; its Version is the store's to set once the number is known.
func PrepareCreateVersion(op string, m *zoo.Model, v *zoo.Version, e *zoo.AuditEntry) error {
	if m != nil {
		if err := PrepareModel(op, m); err != nil {
			return err
		}
		if v.ModelID == "" {
			v.ModelID = m.ID
		}
		if v.ModelID != m.ID {
			return zoo.E(op, zoo.Invalid, nil, "the first version of model %q names model %q", m.ID, v.ModelID)
		}
	}
	if err := PrepareVersion(op, v); err != nil {
		return err
	}
	if err := CheckConversion(op, v.Converted); err != nil {
		return err
	}
	if e.Action == "" {
		return zoo.E(op, zoo.Invalid, nil, "an audit entry needs an action")
	}
	e.ModelID = v.ModelID
	e.At = Stamp(e.At)
	return nil
}

// SortFiles sorts files by path, the order implementations return them in.
func SortFiles(files []zoo.File) {
	slices.SortFunc(files, func(a, b zoo.File) int { return strings.Compare(a.Path, b.Path) })
}

// PrepareTransition checks the arguments of Catalog.Transition and fills in
// the audit entry: Action defaults to the target state, ModelID and Version
// to the version's, At to now.
func PrepareTransition(op, id string, n int, from []zoo.State, to zoo.State, e *zoo.AuditEntry) error {
	if len(from) == 0 {
		return zoo.E(op, zoo.Invalid, nil, "no from-states given")
	}
	for _, s := range from {
		if err := CheckState(op, s); err != nil {
			return err
		}
	}
	if err := CheckState(op, to); err != nil {
		return err
	}
	if e.Action == "" {
		e.Action = string(to)
	}
	if e.ModelID == "" {
		e.ModelID = id
	}
	if e.Version == 0 {
		e.Version = n
	}
	e.At = Stamp(e.At)
	return nil
}

// StateStrings returns states as strings, for query parameters.
func StateStrings(states []zoo.State) []string {
	out := make([]string, len(states))
	for i, s := range states {
		out[i] = string(s)
	}
	return out
}

// ModelNotFound and VersionNotFound are the NotFound errors both
// implementations return.
func ModelNotFound(op, id string) error {
	return zoo.E(op, zoo.NotFound, nil, "model %q not found", id)
}

// VersionNotFound: see ModelNotFound.
func VersionNotFound(op, id string, n int) error {
	return zoo.E(op, zoo.NotFound, nil, "model %q has no version %d", id, n)
}

// WrongState is the Conflict of a Transition whose version is not in one of
// the from-states.
func WrongState(op, id string, n int, current zoo.State, from []zoo.State, to zoo.State) error {
	return zoo.E(op, zoo.Conflict, nil, "version %s/%d is %s; it can become %s only from %s",
		id, n, current, to, joinStates(from))
}

func joinStates(states []zoo.State) string {
	return strings.Join(StateStrings(states), " or ")
}

// Migration is one numbered schema change of a backend.
type Migration struct {
	Version int    // NNNN of NNNN_name.sql
	Name    string // the file name
	SQL     string
}

// Migrations reads the NNNN_name.sql files at the root of fsys in order of
// their numbers, which must run 1, 2, 3, … without gaps or repeats. Other
// files (a README) are ignored.
func Migrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, name := range names {
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql", name)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: expected number %d (numbers run 1, 2, 3, … without gaps or repeats)", m.Name, i+1)
		}
	}
	return out, nil
}

// Pending returns the migrations not in applied, checking that the
// database is not newer than the code (a downgrade): that is a Conflict
// whose message tells the operator to upgrade the binary.
func Pending(all []Migration, applied map[int]bool) ([]Migration, error) {
	for v := range applied {
		if v > len(all) {
			return nil, zoo.E("catalog.Pending", zoo.Conflict, nil,
				"the database has schema version %d, newer than this zoo binary knows (%d): a newer zoo has migrated it; upgrade this binary to that version (going back to this one needs the backup taken before that zoo migrate)", highest(applied), len(all))
		}
	}
	var out []Migration
	for _, m := range all {
		if !applied[m.Version] {
			out = append(out, m)
		}
	}
	return out, nil
}

func highest(applied map[int]bool) int {
	h := 0
	for v := range applied {
		h = max(h, v)
	}
	return h
}

// MigrateMode says what a backend's Open does with the schema.
type MigrateMode int

const (
	// MigrateAll applies every pending migration (the default: zoo serve
	// and zoo worker, unless --no-migrate).
	MigrateAll MigrateMode = iota
	// MigrateFresh migrates an empty database (bootstrapping a new
	// instance with zoo admin token) and otherwise acts as MigrateCheck
	// (zoo admin, zoo gc, zoo jobs never change a schema in use).
	MigrateFresh
	// MigrateCheck applies nothing and refuses a schema that is not
	// exactly this binary's: older ("run zoo migrate") or newer
	// ("upgrade this binary") (serve and worker with --no-migrate).
	MigrateCheck
	// MigrateOff neither checks nor migrates: the opened DB is only for
	// Schema and Migrate (zoo migrate).
	MigrateOff
)

// Mode returns the first mode of opts, or MigrateAll: the backends' Open
// takes its mode as an optional last argument.
func Mode(opts []MigrateMode) MigrateMode {
	if len(opts) > 0 {
		return opts[0]
	}
	return MigrateAll
}

// Decide checks applied against all for mode: it returns the migrations
// to apply now, or an error saying what the operator must do (a newer
// schema: upgrade this binary; an older one under MigrateCheck: run zoo
// migrate). queuePending counts the job queue's own pending migrations.
func Decide(all []Migration, applied map[int]bool, mode MigrateMode, queuePending int) ([]Migration, error) {
	pending, err := Pending(all, applied)
	if err != nil {
		return nil, err
	}
	switch mode {
	case MigrateOff:
		return nil, nil
	case MigrateAll:
		return pending, nil
	case MigrateFresh:
		if len(applied) == 0 {
			return pending, nil
		}
	}
	if len(pending) > 0 || queuePending > 0 {
		what := fmt.Sprintf("schema version %d; this zoo binary needs %d", highest(applied), len(all))
		if len(pending) == 0 {
			what = fmt.Sprintf("%d pending migration(s) of its job queue", queuePending)
		}
		return nil, zoo.E("catalog.Decide", zoo.Conflict, nil,
			"the database has %s: run zoo migrate with this binary first (then restart the replicas and workers)", what)
	}
	return nil, nil
}

// Applied is one migration a database has.
type Applied struct {
	Version   int       `json:"version"`
	Name      string    `json:"name"`
	AppliedAt time.Time `json:"applied_at"`
}

// Schema is a database's migration state, for zoo migrate --status.
type Schema struct {
	Backend string    `json:"backend"` // "postgres" or "sqlite"
	Current int       `json:"current"` // highest applied version (0: empty)
	Known   int       `json:"known"`   // the newest this binary has
	Applied []Applied `json:"applied"`
	Pending []string  `json:"pending"` // file names, in order
	// Queue counts the job queue's (River's) own pending migrations.
	QueuePending int `json:"queue_pending"`
	// Newer is set when the database is newer than this binary.
	Newer bool `json:"newer,omitempty"`
}

// NewSchema makes the Schema of a database with applied (in any order)
// against all.
func NewSchema(backend string, all []Migration, applied []Applied, queuePending int) *Schema {
	s := &Schema{Backend: backend, Known: len(all), Applied: applied, Pending: []string{}, QueuePending: queuePending}
	if s.Applied == nil {
		s.Applied = []Applied{}
	}
	sort.Slice(s.Applied, func(i, j int) bool { return s.Applied[i].Version < s.Applied[j].Version })
	have := map[int]bool{}
	for _, a := range applied {
		have[a.Version] = true
		s.Current = max(s.Current, a.Version)
	}
	s.Newer = s.Current > len(all)
	for _, m := range all {
		if !have[m.Version] {
			s.Pending = append(s.Pending, m.Name)
		}
	}
	return s
}

// CheckTokenHash accepts a lower-case hex SHA-256 (64 characters).
func CheckTokenHash(op, hash string) error {
	ok := len(hash) == 64
	for i := 0; ok && i < len(hash); i++ {
		c := hash[i]
		ok = '0' <= c && c <= '9' || 'a' <= c && c <= 'f'
	}
	if !ok {
		return zoo.E(op, zoo.Invalid, nil, "a token hash is the lower-case hex SHA-256 of the secret (64 characters)")
	}
	return nil
}

// MaxTokenName is the longest token name.
const MaxTokenName = 64

// TokenTouchInterval is how stale a token's recorded last use may get
// before UserByToken records it again (one write a minute per token, not
// one per request).
const TokenTouchInterval = time.Minute

// CheckTokenName accepts 1 to 64 letters, digits, '.', '_' and '-',
// starting with a letter or digit.
func CheckTokenName(op, name string) error {
	ok := len(name) >= 1 && len(name) <= MaxTokenName
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || i > 0 && (c == '.' || c == '_' || c == '-')
	}
	if !ok {
		return zoo.E(op, zoo.Invalid, nil, "a token name is 1 to %d letters, digits, '.', '_' or '-', starting with a letter or digit", MaxTokenName)
	}
	return nil
}

// PublicStates are the states LatestPublished and ListModels(true)
// consider: published and retired.
var PublicStates = []zoo.State{zoo.StatePublished, zoo.StateRetired}

// conversionStatuses are the statuses a stored conversion may have.
var conversionStatuses = []string{zoo.ConversionWaiting, zoo.ConversionConverted, zoo.ConversionPartial, zoo.ConversionFailed}

// CheckConversion accepts nil (no conversion) or a conversion with a known
// status, a valid JSON report and well-formed blob keys and paths.
func CheckConversion(op string, c *zoo.Conversion) error {
	if c == nil {
		return nil
	}
	if !slices.Contains(conversionStatuses, c.Status) {
		return zoo.E(op, zoo.Invalid, nil, "unknown conversion status %q", c.Status)
	}
	if err := CheckJSON(op, "conversion report", c.Report); err != nil {
		return err
	}
	files := append([]zoo.File(nil), c.Files...)
	for _, f := range []*zoo.File{c.Description, c.Package} {
		if f != nil {
			files = append(files, *f)
		}
	}
	for _, f := range files {
		if !isSHA256(f.SHA256) {
			return zoo.E(op, zoo.Invalid, nil, "converted file %q has no valid sha256", f.Path)
		}
	}
	return nil
}

// EncodeConversion is the stored form of c: NULL (nil) or JSON.
func EncodeConversion(c *zoo.Conversion) []byte {
	if c == nil {
		return nil
	}
	b, _ := json.Marshal(c) // CheckConversion made sure the report is valid JSON
	return b
}

// DecodeConversion reads a stored conversion (nil for NULL).
func DecodeConversion(op string, b []byte) (*zoo.Conversion, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var c zoo.Conversion
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "a stored conversion cannot be read")
	}
	if c.At != nil {
		t := c.At.UTC()
		c.At = &t
	}
	return &c, nil
}

// MergeBlobs adds the blobs of the stored conversions to keys and returns
// them sorted, each once (for ReferencedBlobs).
func MergeBlobs(op string, keys []string, conversions [][]byte) ([]string, error) {
	for _, b := range conversions {
		c, err := DecodeConversion(op, b)
		if err != nil {
			return nil, err
		}
		keys = append(keys, c.Blobs()...)
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}
