package feed

import (
	"context"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/spec"
)

// RepoSource is the Source of a repository service: its published and
// retired versions with their retirement times (repo.Service.PublicVersions,
// as package oai lists them) and the service's cached descriptions.
func RepoSource(svc *repo.Service) Source { return repoSource{svc} }

type repoSource struct{ svc *repo.Service }

func (s repoSource) Items(ctx context.Context, modelID string) ([]Item, error) {
	pvs, err := s.svc.PublicVersions(ctx, modelID)
	if err != nil {
		return nil, err
	}
	out := make([]Item, len(pvs))
	for i, pv := range pvs {
		out[i] = Item{Version: pv.Version, Type: pv.Type, Retired: pv.RetiredAt}
	}
	return out, nil
}

func (s repoSource) Description(ctx context.Context, v *zoo.Version) (*spec.Model, error) {
	return s.svc.Description(ctx, v)
}
