package spec

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
)

//go:embed data/spdx-licenses.txt
var spdxCurrentText string

//go:embed data/spdx-deprecated.txt
var spdxDeprecatedText string

type licenseKind int

const (
	licenseUnknown licenseKind = iota
	licenseCurrent
	licenseDeprecated
)

var (
	licensesOnce sync.Once
	licenses     map[string]licenseKind
	licenseFold  map[string]string // lower-case → id, for suggestions
)

func loadLicenses() {
	licenses = map[string]licenseKind{}
	licenseFold = map[string]string{}
	add := func(text string, k licenseKind) {
		for _, line := range strings.Split(text, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			licenses[line] = k
			licenseFold[strings.ToLower(line)] = line
		}
	}
	add(spdxCurrentText, licenseCurrent)
	add(spdxDeprecatedText, licenseDeprecated)
}

// licenseStatus classifies an SPDX id (exact, case-sensitive).
func licenseStatus(id string) licenseKind {
	licensesOnce.Do(loadLicenses)
	return licenses[id]
}

// LicenseIDs returns the current SPDX license ids zoo accepts.
func LicenseIDs() []string {
	licensesOnce.Do(loadLicenses)
	var out []string
	for id, k := range licenses {
		if k == licenseCurrent {
			out = append(out, id)
		}
	}
	return out
}

// licenseHint suggests the id a user probably meant.
func licenseHint(s string) string {
	licensesOnce.Do(loadLicenses)
	if id, ok := licenseFold[strings.ToLower(strings.TrimSpace(s))]; ok {
		return fmt.Sprintf("; did you mean %q? (ids are case-sensitive)", id)
	}
	return ""
}
