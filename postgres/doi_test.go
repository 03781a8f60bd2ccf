package postgres

import (
	"testing"

	"github.com/zoo-bioimage/zoo/doi/doitest"
)

func TestDOIStore(t *testing.T) {
	doitest.RunStore(t, func(t *testing.T) doitest.Backend { return open(t) })
}
