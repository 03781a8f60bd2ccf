package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	"github.com/zoo-bioimage/zoo"
)

// withdrawnPrefix starts the review comment of a version its uploader
// withdrew (Withdraw); such a version is no home of its content.
const withdrawnPrefix = "withdrawn by its uploader"

// ContentDigest is the hex sha256 of a version's content as stored, apart
// from its model id: every file's path and sha256 in path order, the
// description's hash taken after its top-level id is set to "" (an upload
// gets its model's id written into its description, so the same package
// uploaded twice as new models differs only there). Two versions with the
// same digest hold byte-identical packages but for the id. desc is the
// stored description (RawDescription).
func ContentDigest(v *zoo.Version, desc []byte) (string, error) {
	norm, err := withID(desc, "")
	if err != nil {
		return "", err
	}
	ds := sha256.Sum256(norm)
	h := sha256.New()
	for _, f := range sortedFiles(v) {
		sha := f.SHA256
		if f.Path == v.DescriptionFile {
			sha = hex.EncodeToString(ds[:])
		}
		h.Write([]byte(f.Path + "\x00" + sha + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func sortedFiles(v *zoo.Version) []zoo.File {
	fs := slices.Clone(v.Files)
	slices.SortFunc(fs, func(a, b zoo.File) int { return strings.Compare(a.Path, b.Path) })
	return fs
}

// filesKey is what ContentDigest hashes except the description: versions
// whose keys differ cannot have the same content, so only those with v's
// key have their descriptions read.
func filesKey(v *zoo.Version) string {
	var b strings.Builder
	for _, f := range sortedFiles(v) {
		b.WriteString(f.Path + "\x00")
		if f.Path != v.DescriptionFile {
			b.WriteString(f.SHA256)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// SameContent lists the versions other than v whose content equals v's
// (ContentDigest) and that u may see (public ones; unpublished ones only
// to their uploader, the model's maintainers, reviewers and admins, so
// nothing leaks), oldest first; versions withdrawn by their uploader are
// left out. See SameContentEach for its cost.
func (s *Service) SameContent(ctx context.Context, u *zoo.User, v *zoo.Version) ([]*zoo.Version, error) {
	m, err := s.SameContentEach(ctx, u, []*zoo.Version{v})
	return m[v], err
}

// SameContentEach is SameContent for several versions (a review queue):
// it reads the catalog's version list once, and the stored descriptions
// only of versions whose files (all but the description) are those of one
// of vs, so its cost grows with the number of versions, not with their
// sizes.
func (s *Service) SameContentEach(ctx context.Context, u *zoo.User, vs []*zoo.Version) (map[*zoo.Version][]*zoo.Version, error) {
	out := map[*zoo.Version][]*zoo.Version{}
	byKey := map[string][]*zoo.Version{}
	for _, v := range vs {
		k := filesKey(v)
		byKey[k] = append(byKey[k], v)
	}
	all, err := s.cat.ListVersions(ctx, zoo.VersionFilter{})
	if err != nil {
		return nil, err
	}
	digests := map[*zoo.Version]string{}
	digest := func(v *zoo.Version) (string, error) {
		if d, ok := digests[v]; ok {
			return d, nil
		}
		desc, err := s.RawDescription(ctx, v)
		if err != nil {
			return "", err
		}
		d, err := ContentDigest(v, desc)
		if err != nil {
			return "", err
		}
		digests[v] = d
		return d, nil
	}
	models := map[string]*zoo.Model{}
	for _, o := range all {
		mine := byKey[filesKey(o)]
		if len(mine) == 0 || o.State == zoo.StateRejected && strings.HasPrefix(o.ReviewComment, withdrawnPrefix) {
			continue
		}
		if !o.State.Public() {
			m, ok := models[o.ModelID]
			if !ok {
				if m, err = s.cat.Model(ctx, o.ModelID); err != nil {
					return nil, err
				}
				models[o.ModelID] = m
			}
			if !canSeeUnpublished(u, m, o) {
				continue
			}
		}
		got, err := digest(o)
		if err != nil {
			continue // a description that no longer reads is nobody's duplicate
		}
		for _, v := range mine {
			if o.ModelID == v.ModelID && o.Number == v.Number {
				continue
			}
			want, err := digest(v)
			if err != nil {
				return nil, err
			}
			if got == want {
				out[v] = append(out[v], o)
			}
		}
	}
	for _, l := range out {
		slices.SortFunc(l, func(a, b *zoo.Version) int { return a.CreatedAt.Compare(b.CreatedAt) })
	}
	return out, nil
}

// Withdraw is an uploader's (or a maintainer's) taking back of a version
// not yet published: draft, submitted or changes-requested becomes
// rejected, with the review comment "withdrawn by its uploader" (and the
// reason, if given) and the audit action "withdraw". It leaves the review
// queue; its files stay, as a rejected version's do, until GC finds them
// unreferenced (they are referenced while the version exists).
func (s *Service) Withdraw(ctx context.Context, u *zoo.User, id string, n int, reason string) (*zoo.Version, error) {
	const op = "repo.Withdraw"
	if _, _, err := s.own(ctx, u, id, n, op, "withdraw"); err != nil {
		return nil, err
	}
	detail := withdrawnPrefix
	if r := strings.TrimSpace(reason); r != "" {
		detail += ": " + r
	}
	e := zoo.AuditEntry{At: s.now(), ActorID: u.ID, Action: "withdraw", ModelID: id, Version: n, Detail: detail}
	from := []zoo.State{zoo.StateDraft, zoo.StateSubmitted, zoo.StateChangesRequested}
	if err := s.cat.Transition(ctx, id, n, from, zoo.StateRejected, e); err != nil {
		return nil, err
	}
	return s.cat.Version(ctx, id, n)
}

// Ref is "ID/N" of a version.
func Ref(v *zoo.Version) string { return v.ModelID + "/" + strconv.Itoa(v.Number) }
