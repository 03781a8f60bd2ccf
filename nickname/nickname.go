// Package nickname makes the persistent ids of zoo's models:
// "<adjective>-<animal>", e.g. "patient-heron". The word lists are zoo's own
// (words.go); ids are chosen at random, checked against every id ever used,
// and never reused.
package nickname

import (
	"crypto/rand"
	"errors"
	"math/big"
	"strings"
)

// Count is the number of distinct nicknames.
func Count() int { return len(adjectives) * len(animals) }

// ErrExhausted is returned when no free nickname was found.
var ErrExhausted = errors.New("nickname: no free nickname found; the word lists are nearly used up")

// New returns a random nickname for which taken reports false. It tries
// random picks first and, if those keep colliding, scans the whole space
// from a random start, so it fails only when every nickname is taken.
func New(taken func(string) (bool, error)) (string, error) {
	n := Count()
	for i := 0; i < 64; i++ {
		id := At(randInt(n))
		t, err := taken(id)
		if err != nil {
			return "", err
		}
		if !t {
			return id, nil
		}
	}
	start := randInt(n)
	for i := 0; i < n; i++ {
		id := At((start + i) % n)
		t, err := taken(id)
		if err != nil {
			return "", err
		}
		if !t {
			return id, nil
		}
	}
	return "", ErrExhausted
}

// At returns the i-th nickname (0 ≤ i < Count()).
func At(i int) string {
	return adjectives[i/len(animals)] + "-" + animals[i%len(animals)]
}

// Valid reports whether id is a nickname zoo could have made.
func Valid(id string) bool {
	for _, a := range adjectives {
		if rest, ok := strings.CutPrefix(id, a+"-"); ok {
			for _, n := range animals {
				if rest == n {
					return true
				}
			}
		}
	}
	return false
}

// Emoji returns the emoji of a nickname's animal, or "".
func Emoji(id string) string {
	for i, n := range animals {
		if strings.HasSuffix(id, "-"+n) {
			return emojis[i]
		}
	}
	return ""
}

func randInt(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return int(v.Int64())
}
