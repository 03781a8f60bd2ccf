package postgres

import (
	"testing"

	"github.com/zoo-bioimage/zoo/finetune/ftjob"
	"github.com/zoo-bioimage/zoo/finetune/ftjob/ftjobtest"
)

func TestFinetuneJobs(t *testing.T) {
	ftjobtest.Run(t, func(t *testing.T) ftjob.Store { return open(t).FinetuneJobs() })
}
