package repo

import (
	"bytes"
	"context"
	"io"
	"sync"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
)

// maxDescription bounds a stored description read back (the validator's
// own limit).
const maxDescription = 8 << 20

// descCache keeps decoded descriptions. A version's files never change
// after upload, so entries never go stale; the cache is bounded by count.
type descCache struct {
	mu sync.Mutex
	m  map[string]*spec.Model
}

const descCacheSize = 4096

// RawDescription returns the bytes of v's description file (rdf.yaml) as
// uploaded. The caller checks that the caller may see v.
func (s *Service) RawDescription(ctx context.Context, v *zoo.Version) ([]byte, error) {
	return s.rawDescription(ctx, v, v.Files)
}

func (s *Service) rawDescription(ctx context.Context, v *zoo.Version, files []zoo.File) ([]byte, error) {
	const op = "repo.RawDescription"
	for _, f := range files {
		if f.Path != v.DescriptionFile {
			continue
		}
		b, err := s.blobs.Open(ctx, f.SHA256)
		if err != nil {
			return nil, err
		}
		defer b.Close()
		var buf bytes.Buffer
		if _, err := io.Copy(&buf, io.LimitReader(b, maxDescription+1)); err != nil {
			return nil, zoo.E(op, zoo.Internal, err, "cannot read the description of %s/%d", v.ModelID, v.Number)
		}
		if buf.Len() > maxDescription {
			return nil, zoo.E(op, zoo.TooLarge, nil, "the description of %s/%d is larger than 8 MiB", v.ModelID, v.Number)
		}
		return buf.Bytes(), nil
	}
	return nil, zoo.E(op, zoo.Internal, nil, "%s/%d has no description file %q", v.ModelID, v.Number, v.DescriptionFile)
}

// Description returns the description of v's runnable package (see
// RunnableFiles: the converted one once v has been converted, else the
// uploaded one) decoded in the latest format (see spec.Decode), from a
// cache. The caller checks that the caller may see v and must not modify
// the result.
func (s *Service) Description(ctx context.Context, v *zoo.Version) (*spec.Model, error) {
	key := v.ModelID + "/" + v.PackageSHA256
	if c := v.Converted; c != nil && c.Description != nil {
		key += "/" + c.Description.SHA256
	}
	s.descs.mu.Lock()
	m, ok := s.descs.m[key]
	s.descs.mu.Unlock()
	if ok {
		return m, nil
	}
	raw, err := s.rawDescription(ctx, v, RunnableFiles(v))
	if err != nil {
		return nil, err
	}
	m, err = spec.Decode(raw, v.ModelID+"/"+v.DescriptionFile)
	if err != nil {
		return nil, zoo.E("repo.Description", zoo.Internal, err, "the stored description of %s/%d cannot be read", v.ModelID, v.Number)
	}
	s.descs.mu.Lock()
	if s.descs.m == nil || len(s.descs.m) >= descCacheSize {
		s.descs.m = map[string]*spec.Model{}
	}
	s.descs.m[key] = m
	s.descs.mu.Unlock()
	return m, nil
}
