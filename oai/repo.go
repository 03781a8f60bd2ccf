package oai

import (
	"cmp"
	"context"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/spec"
)

// RepoSource is the Source of a repository service: its published and
// retired versions with their retirement times (repo.Service.PublicVersions)
// and the service's cached descriptions.
func RepoSource(svc *repo.Service) ItemSource { return repoSource{svc} }

type repoSource struct{ svc *repo.Service }

func (s repoSource) Items(ctx context.Context) ([]Item, error) {
	pvs, err := s.svc.PublicVersions(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]Item, len(pvs))
	for i, pv := range pvs {
		out[i] = Item{Version: pv.Version, Type: pv.Type, Datestamp: published(pv.Version)}
		if pv.RetiredAt.After(out[i].Datestamp) {
			out[i].Datestamp = pv.RetiredAt
		}
	}
	return out, nil
}

// Item finds one published or retired version (anonymous visibility).
func (s repoSource) Item(ctx context.Context, id string, n int) (Item, error) {
	v, err := s.svc.Get(ctx, nil, id, n)
	if err != nil {
		return Item{}, err
	}
	if !v.State.Public() {
		return Item{}, zoo.E("oai.Item", zoo.NotFound, nil, "no such record")
	}
	cat := s.svc.Catalog()
	m, err := cat.Model(ctx, id)
	if err != nil {
		return Item{}, err
	}
	it := Item{Version: v, Type: cmp.Or(m.Type, "model"), Datestamp: published(v)}
	if v.State == zoo.StateRetired {
		byN, err := s.svc.Retirements(ctx, id)
		if err != nil {
			return Item{}, err
		}
		if t, ok := byN[v.Number]; ok && t.After(it.Datestamp) {
			it.Datestamp = t
		}
	}
	return it, nil
}

func published(v *zoo.Version) time.Time {
	if v.PublishedAt != nil {
		return *v.PublishedAt
	}
	return v.CreatedAt
}

func (s repoSource) Description(ctx context.Context, v *zoo.Version) (*spec.Model, error) {
	return s.svc.Description(ctx, v)
}
