package collection

import (
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/zoo-bioimage/zoo/spec"
)

// extras are the fields of a description that bioimage.io's collection
// entry copies and zoo's typed description (spec.Model) does not keep.
type extras struct {
	Links        []string
	Badges       []Badge // Icon and URL as written (relative paths not yet resolved)
	Icon         string  // an emoji (≤ 2 characters) or a file
	TrainingData string  // the training dataset's id
	Uploader     struct{ Name, Email string }
}

// Limits on what parseExtras keeps from one description.
const (
	maxExtraRaw    = 8 << 20 // the validator's own limit on a description
	maxLinks       = 100
	maxBadges      = 50
	maxExtraString = 2048
)

// parseExtras reads the extras from a stored description. A description
// reached the store validated, but the fields are read defensively: wrong
// types are skipped, strings and lists are capped, and any parse failure
// gives no extras rather than an error.
func parseExtras(raw []byte) extras {
	var e extras
	if len(raw) > maxExtraRaw {
		return e
	}
	var doc map[string]any
	if err := yaml.Unmarshal(spec.AcceptYAML12(raw), &doc); err != nil {
		return e
	}
	links, _ := doc["links"].([]any)
	badges, _ := doc["badges"].([]any)
	for _, l := range links {
		if s := str(l); s != "" && len(e.Links) < maxLinks {
			e.Links = append(e.Links, s)
		}
	}
	for _, b := range badges {
		m, ok := b.(map[string]any)
		if !ok || len(e.Badges) >= maxBadges {
			continue
		}
		bd := Badge{Icon: str(m["icon"]), Label: str(m["label"]), URL: str(m["url"])}
		if bd.Label != "" && bd.URL != "" {
			e.Badges = append(e.Badges, bd)
		}
	}
	e.Icon = str(doc["icon"])
	if m, ok := doc["training_data"].(map[string]any); ok {
		e.TrainingData = str(m["id"])
	}
	if m, ok := doc["uploader"].(map[string]any); ok {
		e.Uploader.Name, e.Uploader.Email = str(m["name"]), str(m["email"])
	}
	return e
}

// str returns v if it is a non-empty string within the length limit
// (trimmed), else "".
func str(v any) string {
	s, ok := v.(string)
	if !ok || len(s) > maxExtraString {
		return ""
	}
	return strings.TrimSpace(s)
}
