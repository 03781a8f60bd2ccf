package nickname

import (
	"regexp"
	"testing"
)

var idRE = regexp.MustCompile(`^[a-z]+-[a-z]+$`)

func TestWordListsAreUsableIDs(t *testing.T) {
	if len(emojis) != len(animals) {
		t.Fatalf("%d emojis for %d animals", len(emojis), len(animals))
	}
	seen := map[string]bool{}
	for i := 0; i < Count(); i++ {
		id := At(i)
		if !idRE.MatchString(id) || seen[id] {
			t.Fatalf("nickname %d %q is malformed or repeated", i, id)
		}
		seen[id] = true
		if !Valid(id) || Emoji(id) == "" {
			t.Fatalf("%q not recognised", id)
		}
	}
	if Count() < 10000 {
		t.Errorf("only %d nicknames", Count())
	}
}

func TestNewAvoidsTakenIDs(t *testing.T) {
	used := map[string]bool{}
	taken := func(id string) (bool, error) { return used[id], nil }
	for i := 0; i < 2000; i++ {
		id, err := New(taken)
		if err != nil {
			t.Fatal(err)
		}
		if used[id] {
			t.Fatalf("%q handed out twice", id)
		}
		used[id] = true
	}
}

func TestNewFindsTheLastFreeID(t *testing.T) {
	last := At(Count() / 2)
	id, err := New(func(id string) (bool, error) { return id != last, nil })
	if err != nil || id != last {
		t.Fatalf("got %q, %v; want %q", id, err, last)
	}
	if _, err := New(func(string) (bool, error) { return true, nil }); err != ErrExhausted {
		t.Fatalf("all taken: err %v", err)
	}
}
