package sqlite

import (
	"testing"

	"github.com/zoo-bioimage/zoo/challenge"
	"github.com/zoo-bioimage/zoo/challenge/challengetest"
)

func TestChallenges(t *testing.T) {
	challengetest.Run(t, func(t *testing.T) challenge.Store { return open(t).Challenges() })
}
