package repo

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
)

// scrubPaths removes the server's file-system paths from a JSON test
// report: a path inside the package folder pkg becomes relative to it
// ("weights/model.onnx"), and any other path under one of roots (the
// test's folder, the temporary folders) is cut to its file name. Roots
// are also matched with their symbolic links resolved. Paths are ended
// by a quote, white space or one of ,;:)]} and the JSON escape of a
// quote.
func scrubPaths(report []byte, pkg string, roots []string) []byte {
	type rule struct {
		root     []byte
		relative bool
	}
	var rules []rule
	add := func(p string, relative bool) {
		if p == "" || !filepath.IsAbs(p) || filepath.Clean(p) == string(filepath.Separator) {
			return
		}
		for _, q := range []string{filepath.Clean(p), resolved(p)} {
			if q == "" {
				continue
			}
			b, _ := json.Marshal(q) // the root as it appears inside a JSON string
			rules = append(rules, rule{b[1 : len(b)-1], relative})
		}
	}
	add(pkg, true)
	for _, r := range roots {
		add(r, false)
	}
	out := report
	for _, r := range rules {
		out = replacePaths(out, r.root, r.relative)
	}
	return out
}

func resolved(p string) string {
	q, err := filepath.EvalSymlinks(p)
	if err != nil || q == filepath.Clean(p) {
		return ""
	}
	return q
}

// replacePaths rewrites every occurrence of root followed by a path end or
// a separator: relative keeps what follows root's separator, otherwise the
// path's last element is kept (the root alone becomes "").
func replacePaths(b, root []byte, relative bool) []byte {
	if !bytes.Contains(b, root) {
		return b
	}
	var out bytes.Buffer
	for {
		i := bytes.Index(b, root)
		if i < 0 {
			out.Write(b)
			return out.Bytes()
		}
		rest := b[i+len(root):]
		if len(rest) > 0 && rest[0] != '/' && !pathEnd(rest) {
			// A longer name that merely starts like root (/tmp/zoo-test-1 vs /tmp/zoo-test-12).
			out.Write(b[:i+len(root)])
			b = rest
			continue
		}
		out.Write(b[:i])
		end := 0
		for end < len(rest) && !pathEnd(rest[end:]) {
			end++
		}
		tail := strings.TrimPrefix(string(rest[:end]), "/")
		if !relative && tail != "" {
			tail = tail[strings.LastIndexByte(tail, '/')+1:]
		}
		out.WriteString(tail)
		b = rest[end:]
	}
}

// pathEnd reports whether b starts with what ends a path in a report.
func pathEnd(b []byte) bool {
	switch b[0] {
	case '"', ' ', '\t', '\n', ',', ';', ':', ')', ']', '}', '\'':
		return true
	case '\\':
		return len(b) > 1 && (b[1] == '"' || b[1] == 'n' || b[1] == 't')
	}
	return false
}
