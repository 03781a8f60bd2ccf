package oai

import (
	"context"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/spec"
)

// RepoSource is the Source of a repository service: the catalog's
// published and retired versions (three queries, plus one audit query per
// model with a retired version, for its retirement time) and the service's
// cached descriptions.
func RepoSource(svc *repo.Service) Source { return repoSource{svc} }

type repoSource struct{ svc *repo.Service }

func (s repoSource) Items(ctx context.Context) ([]Item, error) {
	cat := s.svc.Catalog()
	vs, err := cat.ListVersions(ctx, zoo.VersionFilter{States: []zoo.State{zoo.StatePublished, zoo.StateRetired}})
	if err != nil {
		return nil, err
	}
	models, err := cat.ListModels(ctx, true)
	if err != nil {
		return nil, err
	}
	types := make(map[string]string, len(models))
	for _, m := range models {
		types[m.ID] = m.Type
	}
	retired := map[string]map[int]zoo.AuditEntry{} // model → version → retire entry
	out := make([]Item, 0, len(vs))
	for _, v := range vs {
		if !v.State.Public() {
			continue
		}
		it := Item{Version: v, Type: types[v.ModelID], Datestamp: v.CreatedAt}
		if v.PublishedAt != nil {
			it.Datestamp = *v.PublishedAt
		}
		if v.State == zoo.StateRetired {
			byN, ok := retired[v.ModelID]
			if !ok {
				audit, err := cat.Audit(ctx, v.ModelID, 0)
				if err != nil {
					return nil, err
				}
				byN = map[int]zoo.AuditEntry{}
				for _, e := range audit { // newest first: keep the latest
					if _, seen := byN[e.Version]; e.Action == "retire" && !seen {
						byN[e.Version] = e
					}
				}
				retired[v.ModelID] = byN
			}
			if e, ok := byN[v.Number]; ok && e.At.After(it.Datestamp) {
				it.Datestamp = e.At
			}
		}
		if it.Type == "" {
			it.Type = "model"
		}
		out = append(out, it)
	}
	return out, nil
}

func (s repoSource) Description(ctx context.Context, v *zoo.Version) (*spec.Model, error) {
	return s.svc.Description(ctx, v)
}
