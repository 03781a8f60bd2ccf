package repo

import (
	"cmp"
	"context"
	"time"

	"github.com/zoo-bioimage/zoo"
)

// PublicVersion is a published or retired version, as harvesters (OAI-PMH,
// feeds) list it: with its model's type and, when retired, when.
type PublicVersion struct {
	*zoo.Version
	Type string // the model's type; "model" when unset
	// RetiredAt is the latest retirement of a retired version in the
	// model's audit log (zero for published versions and when none is
	// recorded).
	RetiredAt time.Time
}

// PublicVersions lists every published and retired version (those of one
// model when modelID is not ""), in the catalog's order. It costs two
// catalog queries plus one audit query per model with a retired version.
// An unknown modelID gives an empty list.
func (s *Service) PublicVersions(ctx context.Context, modelID string) ([]PublicVersion, error) {
	vs, err := s.cat.ListVersions(ctx, zoo.VersionFilter{ModelID: modelID, States: []zoo.State{zoo.StatePublished, zoo.StateRetired}})
	if err != nil || len(vs) == 0 {
		return nil, err
	}
	types := map[string]string{}
	if modelID != "" {
		m, err := s.cat.Model(ctx, modelID)
		if err != nil {
			return nil, err
		}
		types[m.ID] = m.Type
	} else {
		ms, err := s.cat.ListModels(ctx, true)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			types[m.ID] = m.Type
		}
	}
	retired := map[string]map[int]time.Time{} // model → version → retirement
	out := make([]PublicVersion, 0, len(vs))
	for _, v := range vs {
		if !v.State.Public() {
			continue
		}
		pv := PublicVersion{Version: v, Type: cmp.Or(types[v.ModelID], "model")}
		if v.State == zoo.StateRetired {
			byN, ok := retired[v.ModelID]
			if !ok {
				if byN, err = s.Retirements(ctx, v.ModelID); err != nil {
					return nil, err
				}
				retired[v.ModelID] = byN
			}
			pv.RetiredAt = byN[v.Number]
		}
		out = append(out, pv)
	}
	return out, nil
}

// Retirements returns the latest retirement time of each version of a
// model, from its audit log.
func (s *Service) Retirements(ctx context.Context, id string) (map[int]time.Time, error) {
	audit, err := s.cat.Audit(ctx, id, 0)
	if err != nil {
		return nil, err
	}
	byN := map[int]time.Time{}
	for _, e := range audit {
		if e.Action == "retire" && e.At.After(byN[e.Version]) {
			byN[e.Version] = e.At
		}
	}
	return byN, nil
}
