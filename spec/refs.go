package spec

import (
	"go.yaml.in/yaml/v3"
)

// FileRef is one file reference the validator met in a description, for
// tools that copy a description's files and rewrite its text (package
// bundle). Positions are those of the description text: 1-based line and
// column (counted in characters, as the YAML library does); 0 where a value
// has no position (it was created by an upgrade).
type FileRef struct {
	Source string // the file's relative path or http(s) URL
	Loc    string // field path of the value naming it, e.g. "weights.onnx.source"
	// Value is the scalar at Loc. It differs from Source only in format 0.4
	// strings that embed the file: "conda:environment.yaml" (dependencies)
	// and "unet.py:UNet2d" (architecture).
	Value        string
	Line, Column int // position of Value
	// Hashed reports whether the format keeps a sha256 for this file in the
	// same mapping (key "sha256"); SHA256 is that value ("" if absent or null).
	Hashed               bool
	SHA256               string
	HashLine, HashColumn int // position of the sha256 value when the key is present (even if null)
	// KeyColumn is the column of the "source" key in a block mapping, where
	// a missing sha256 line would go; 0 in flow mappings ({…}) or unknown.
	KeyColumn int
}

// References returns the file references res's description makes, in the
// order the validator met them (a file referenced twice appears twice).
// It is empty when the description could not be parsed.
func References(res *Result) []FileRef {
	if res == nil {
		return nil
	}
	out := make([]FileRef, 0, len(res.refs))
	for _, f := range res.refs {
		r := FileRef{Source: f.source, Loc: f.p.String()}
		if f.node != nil {
			r.Value, r.Line, r.Column = f.node.Value, f.node.Line, f.node.Column
		}
		if f.owner != nil && f.shaKey == "sha256" {
			r.Hashed = true
			if f.sha != nil {
				r.SHA256 = f.sha.Value
			}
			if sha := lookup(f.owner, f.shaKey); sha != nil {
				r.HashLine, r.HashColumn = sha.Line, sha.Column
			}
			if k := keyNode(f.owner, "source"); k != nil && f.owner.Style&yaml.FlowStyle == 0 {
				r.KeyColumn = k.Column
			}
		}
		out = append(out, r)
	}
	return out
}
