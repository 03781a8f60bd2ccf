package postgres

import (
	"testing"

	"github.com/zoo-bioimage/zoo/jobs"
	"github.com/zoo-bioimage/zoo/jobs/jobstest"
)

func TestJobs(t *testing.T) {
	jobstest.Run(t, func(t *testing.T) jobs.Store {
		db := open(t)
		return db.Jobs()
	})
}
