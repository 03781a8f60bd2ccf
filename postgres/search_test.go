package postgres

import (
	"testing"

	"github.com/zoo-bioimage/zoo/search/searchtest"
)

func TestSearch(t *testing.T) {
	searchtest.Run(t, func(t *testing.T) searchtest.Backend { return open(t) })
}
