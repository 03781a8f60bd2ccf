package spec

import (
	"math"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// This file holds the fields every format 0.2 description shares: the
// generic 0.2 base of model 0.4 and of dataset, application, notebook and
// generic 0.2 (reference §15 "Generic 0.2 base fields", g02.py
// GenericModelDescrBase and GenericDescrBase).
//
// The 0.2 base is laxer than the 0.3 one: names may hold any character,
// cite urls and git_repo are plain strings, authors may be given as plain
// strings, and person names silently lose their slashes.

// genericBase02 returns the shared 0.2 fields. For a model (isModel) the
// name follows the model's length hints (INFO below 5 or above 64
// characters) and authors are required and non-empty; the model declares
// its own documentation and license, so those, and badges, are only part
// of the non-model base.
func genericBase02(isModel bool) []field {
	fs := []field{
		{key: "type", required: true},
		{key: "format_version", required: true},
		{key: "name", required: true, check: nameRule02(isModel)},
		{key: "description", required: true, check: anyStr},
		{key: "covers", check: listRule(0, coverFile.rule)},
		{key: "id_emoji", check: nullable(emojiRule(1))},
		{key: "attachments", check: nullable(attachmentsRule02)},
		{key: "cite", missing: Warning, check: citeListRule02},
		{key: "config", check: configRule02},
		{key: "download_url", check: nullable(httpURLRule)},
		{key: "git_repo", check: nullable(anyStr)},
		{key: "icon", check: nullable(iconRule)},
		{key: "links", check: listRule(0, anyStr)},
		{key: "uploader", check: nullable(uploaderRule02)},
		{key: "maintainers", check: listRule(0, maintainerRule02)},
		{key: "rdf_source", check: nullable(rdfSourceRule)},
		{key: "tags", check: listRule(0, anyStr)},
		{key: "version", check: nullable(versionRule)},
		{key: "version_number", check: nullable(intRule(math.MinInt64, maxInt))},
	}
	if isModel {
		return append(fs, field{key: "authors", required: true, check: authorsRule02(true)})
	}
	return append(fs,
		field{key: "authors", missing: Warning, check: authorsRule02(false)},
		field{key: "badges", check: listRule(0, badgeRule)},
		field{key: "documentation", check: nullable(fileSource{}.rule)},
		field{key: "license", missing: Warning, check: licenseRule02},
	)
}

// nameRule02: a non-empty string. Models get INFO hints outside 5–64
// characters, other resources a WARNING above 128.
func nameRule02(isModel bool) check {
	return func(c *checker, n *yaml.Node, p path) {
		s, ok := c.str(n, p)
		if !ok {
			return
		}
		l := utf8.RuneCountInString(s)
		switch {
		case l == 0:
			c.errorf(n, p, "the name must not be empty")
		case isModel && l < 5:
			c.warnf(Info, n, p, "Name shorter than 5 characters.")
		case isModel && l > 64:
			c.warnf(Info, n, p, "Name longer than 64 characters.")
		case !isModel && l > 128:
			c.warnf(Warning, n, p, "Longer than 128 characters.")
		}
	}
}

// removeSlashes drops '/' and '\' from a person's name in place, as 0.2
// does silently for authors, maintainers and uploaders.
func removeSlashes(c *checker, n *yaml.Node, p path) {
	if _, ok := c.str(n, p); ok {
		n.Value = slashRemover.Replace(n.Value) // a shared Replacer: building one allocates ~1.5 kB
	}
}

func personFields02(nameRequired, githubRequired bool) []field {
	return []field{
		{key: "name", required: nameRequired, check: nullable(removeSlashes)},
		{key: "affiliation", check: nullable(anyStr)},
		{key: "email", check: nullable(emailRule)},
		{key: "orcid", check: nullable(orcidRule)},
		{key: "github_user", required: githubRequired, check: nullable(githubUserRule)},
	}
}

// authorRule02 accepts an author mapping or, unofficially, a plain string,
// which it rewrites to {name: <string>} in place.
func authorRule02(c *checker, n *yaml.Node, p path) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		name := *n
		*n = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column,
			Content: []*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!str", Value: "name", Line: n.Line, Column: n.Column}, &name}}
	}
	c.object(n, p, personFields02(true, false), false)
}

var maintainerRule02 = objectRule(personFields02(false, true), false)

// authorsRule02 checks the authors list; an empty list is an error for
// models and a "missing" WARNING otherwise.
func authorsRule02(isModel bool) check {
	return func(c *checker, n *yaml.Node, p path) {
		items, ok := c.list(n, p)
		if !ok {
			return
		}
		if len(items) == 0 {
			if isModel {
				c.errorf(n, p, "a model needs at least one author")
			} else {
				c.warnf(Warning, n, p, "missing")
			}
		}
		for i, it := range items {
			authorRule02(c, it, p.i(i))
		}
	}
}

// citeRule02: {text, doi?, url?}; doi prefixes https://doi.org/ are
// stripped, url is any string (0.3 demands an http URL), and one of doi or
// url must be non-empty.
func citeRule02(c *checker, n *yaml.Node, p path) {
	if d := lookup(n, "doi"); d != nil {
		stripDOIPrefix(d)
	}
	vals := c.object(n, p, []field{
		{key: "text", required: true, check: anyStr},
		{key: "doi", check: nullable(doiRule)},
		{key: "url", check: nullable(anyStr)},
	}, false)
	if vals != nil && isEmpty(vals["doi"]) && isEmpty(vals["url"]) {
		c.errorf(n, p, "Either 'doi' or 'url' is required")
	}
}

func citeListRule02(c *checker, n *yaml.Node, p path) {
	items, ok := c.list(n, p)
	if !ok {
		return
	}
	if len(items) == 0 {
		c.warnf(Warning, n, p, "missing")
	}
	for i, it := range items {
		citeRule02(c, it, p.i(i))
	}
}

// attachmentsRule02: {files: [FileSource], …any other keys}.
var attachmentsRule02 = objectRule([]field{{key: "files", check: listRule(0, anyFile.rule)}}, true)

var uploaderRule02 = objectRule([]field{
	{key: "email", required: true, check: emailRule},
	{key: "name", check: nullable(removeSlashes)},
}, false)

// configRule02: a mapping of YAML values (no inf/nan anywhere).
func configRule02(c *checker, n *yaml.Node, p path) {
	if n.Kind != yaml.MappingNode {
		c.errorf(n, p, "expected a mapping, found %s", kindName(n))
		return
	}
	yamlValue(c, n, p)
}

// rdfSourceRule: where the description was loaded from (an http URL or a
// path). It is bookkeeping, not a file of the resource, so it is not
// checked for existence.
func rdfSourceRule(c *checker, n *yaml.Node, p path) {
	s, ok := c.str(n, p)
	if !ok {
		return
	}
	if s == "" {
		c.errorf(n, p, "must not be empty")
		return
	}
	if strings.HasPrefix(s, "http:") || strings.HasPrefix(s, "https:") {
		if msg := httpURLCheck(s); msg != "" {
			c.errorf(n, p, "%s", msg)
		}
	}
}

// licenseRule02 (non-model 0.2): any string; deprecated and unknown SPDX
// ids are WARNINGs.
func licenseRule02(c *checker, n *yaml.Node, p path) {
	s, ok := c.str(n, p)
	if !ok {
		return
	}
	switch licenseStatus(s) {
	case licenseCurrent:
	case licenseDeprecated:
		c.warnf(Warning, n, p, "'%s' is a deprecated license identifier.", s)
	default:
		c.warnf(Warning, n, p, "'%s' is an unknown license identifier.%s", s, licenseHint(s))
	}
}
