package feed

import (
	"cmp"
	"context"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/spec"
)

// RepoSource is the Source of a repository service: the catalog's
// published and retired versions (as packages collection and oai list
// them), the models' types, one audit query per model with a retired
// version (its retirement time, as oai dates retired records) and the
// service's cached descriptions.
func RepoSource(svc *repo.Service) Source { return repoSource{svc} }

type repoSource struct{ svc *repo.Service }

var publicStates = []zoo.State{zoo.StatePublished, zoo.StateRetired}

func (s repoSource) Items(ctx context.Context, modelID string) ([]Item, error) {
	cat := s.svc.Catalog()
	types := map[string]string{}
	if modelID != "" {
		m, err := cat.Model(ctx, modelID)
		if zoo.KindOf(err) == zoo.NotFound {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		types[m.ID] = m.Type
	} else {
		ms, err := cat.ListModels(ctx, true)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			types[m.ID] = m.Type
		}
	}
	vs, err := cat.ListVersions(ctx, zoo.VersionFilter{ModelID: modelID, States: publicStates})
	if err != nil {
		return nil, err
	}
	retired := map[string]map[int]time.Time{}
	out := make([]Item, 0, len(vs))
	for _, v := range vs {
		if !v.State.Public() {
			continue
		}
		typ, ok := types[v.ModelID]
		if !ok {
			if m, err := cat.Model(ctx, v.ModelID); err == nil {
				typ = m.Type
			}
			types[v.ModelID] = typ
		}
		it := Item{Version: v, Type: cmp.Or(typ, "model")}
		if v.State == zoo.StateRetired {
			byN, ok := retired[v.ModelID]
			if !ok {
				if byN, err = retirements(ctx, cat, v.ModelID); err != nil {
					return nil, err
				}
				retired[v.ModelID] = byN
			}
			it.Retired = byN[v.Number]
		}
		out = append(out, it)
	}
	return out, nil
}

// retirements returns the latest retirement time of each version of a
// model, from its audit log.
func retirements(ctx context.Context, cat zoo.Catalog, id string) (map[int]time.Time, error) {
	audit, err := cat.Audit(ctx, id, 0)
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

func (s repoSource) Description(ctx context.Context, v *zoo.Version) (*spec.Model, error) {
	return s.svc.Description(ctx, v)
}
