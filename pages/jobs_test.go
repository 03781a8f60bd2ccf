package pages_test

import (
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/web"
)

// jobRoutes mounts the jobs API when it exists (none yet).
func jobRoutes(svc *repo.Service) []web.Route { return nil }
