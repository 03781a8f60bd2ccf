package spec

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file holds the fields every 0.3 description shares (model 0.5,
// dataset, application, notebook, generic 0.3; reference §3 and §17).

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_+\-() ]+$`)

func nameRule03(c *checker, n *yaml.Node, p path) {
	s, ok := c.str(n, p)
	if !ok {
		return
	}
	l := len([]rune(s))
	switch {
	case l < 5:
		c.errorf(n, p, "the name must have at least 5 characters, %q has %d", s, l)
	case l > 128:
		c.errorf(n, p, "the name must have at most 128 characters, has %d", l)
	case !nameRE.MatchString(s):
		c.errorf(n, p, "the name %q may only contain ASCII letters, digits, spaces and _ + - ( )", clip(s, 60))
	case l > 64:
		c.warnf(Info, n, p, "the name is longer than 64 characters; consider a shorter one")
	}
}

func descriptionRule03(c *checker, n *yaml.Node, p path) {
	s, ok := c.str(n, p)
	if !ok {
		return
	}
	l := len([]rune(s))
	if l > 1024 {
		c.errorf(n, p, "the description must have at most 1024 characters, has %d", l)
	} else if l > 512 {
		c.warnf(Warning, n, p, "the description is longer than 512 characters; put details in the documentation")
	}
}

var coverFile = fileSource{suffixes: []string{".gif", ".jpeg", ".jpg", ".png", ".svg", ".tif", ".tiff"}, noReserved: true}

func authorFields(requireGithub bool) []field {
	fs := []field{
		{key: "name", required: !requireGithub, check: noSlashNameRule},
		{key: "affiliation", check: anyStr},
		{key: "email", check: emailRule},
		{key: "orcid", check: orcidRule},
		{key: "github_user", required: requireGithub, check: githubUserRule},
	}
	return fs
}

func githubUserRule(c *checker, n *yaml.Node, p path) {
	s, ok := c.str(n, p)
	if !ok {
		return
	}
	n.Value = strings.TrimPrefix(s, "https://github.com/")
}

var authorRule = objectRule(authorFields(false), false)
var maintainerRule = objectRule(authorFields(true), false)

func citeRule03(c *checker, n *yaml.Node, p path) {
	vals := c.object(n, p, []field{
		{key: "text", required: true, check: anyStr},
		{key: "doi", check: doiRule},
		{key: "url", check: httpURLRule},
	}, false)
	if vals != nil && isNull(vals["doi"]) && isNull(vals["url"]) {
		c.errorf(n, p, "Either 'doi' or 'url' is required")
	}
}

func iconRule(c *checker, n *yaml.Node, p path) {
	s, ok := c.str(n, p)
	if !ok {
		return
	}
	if visibleChars(s, 2) <= 2 {
		return
	}
	anyFile.rule(c, n, p)
}

var uploaderRule = objectRule([]field{
	{key: "email", required: true, check: emailRule},
	{key: "name", check: anyStr},
}, false)

// moveVersionNumber moves the legacy version_number into version.
func moveVersionNumber(m *yaml.Node) {
	if vn := lookup(m, "version_number"); vn != nil && lookup(m, "version") == nil {
		rename(m, "version_number", "version")
	}
}

// genericBase03 returns the shared 0.3 fields.
func genericBase03() []field {
	return []field{
		{key: "type", required: true},
		{key: "format_version", required: true},
		{key: "name", required: true, check: nameRule03},
		{key: "description", fair: true, check: descriptionRule03},
		{key: "covers", check: listRule(0, coverFile.rule)},
		{key: "id_emoji", check: emojiRule(2)},
		{key: "authors", fair: true, check: listRule(0, authorRule)},
		{key: "attachments", check: listRule(0, fileDescr(anyFile))},
		{key: "cite", fair: true, check: listRule(0, citeRule03)},
		{key: "license", fair: true, check: licenseRule03},
		{key: "git_repo", check: httpURLRule},
		{key: "icon", check: iconRule},
		{key: "links", check: listRule(0, anyStr)},
		{key: "uploader", check: uploaderRule},
		{key: "maintainers", check: listRule(0, maintainerRule)},
		{key: "tags", fair: true, check: listRule(0, anyStr)},
		{key: "version", check: versionRule},
		{key: "version_comment", check: strRule(0, 512)},
	}
}

func licenseRule03(c *checker, n *yaml.Node, p path) {
	s, ok := c.str(n, p)
	if !ok {
		return
	}
	switch licenseStatus(s) {
	case licenseCurrent:
	case licenseDeprecated:
		c.warnf(Warning, n, p, "%s is deprecated, see https://spdx.org/licenses/%s.html", s, s)
	default:
		c.errorf(n, p, "%q is not an SPDX license id%s (see https://spdx.org/licenses/)", clip(s, 60), licenseHint(s))
	}
}

// checkMaintainers raises the ALERT for descriptions whose authors cannot
// be reached through GitHub.
func checkMaintainers(c *checker, root *yaml.Node) {
	maint := lookup(root, "maintainers")
	authors := lookup(root, "authors")
	if !isEmpty(maint) || isEmpty(authors) || authors.Kind != yaml.SequenceNode {
		return
	}
	for _, a := range authors.Content {
		if !isNull(lookup(a, "github_user")) {
			return
		}
	}
	c.warnf(Alert, root, nil, "no maintainers given and no author has a github_user: add 'maintainers' with GitHub user names so users can reach someone")
}

func configRule03(c *checker, n *yaml.Node, p path) {
	if n.Kind != yaml.MappingNode {
		c.errorf(n, p, "expected a mapping, found %s", kindName(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "bioimageio" {
			mapRule(c, n.Content[i+1], p.k("bioimageio"))
			continue
		}
		yamlValue(c, n.Content[i+1], p.k(n.Content[i].Value))
	}
}

var badgeRule = objectRule([]field{
	{key: "label", required: true, check: anyStr},
	{key: "icon", check: anyFile.rule},
	{key: "url", required: true, check: httpURLRule},
}, false)

// upgradeGeneric03 applies, in place, what the reference's generic 0.3
// converter does to every 0.3.x description before validating it
// (generic/_v0_3_converter.py convert_from_older_format, which runs for
// 0.2.x and 0.3.x alike): attachments given the 0.2 way ({files: [...]})
// become a list of {source}, the 0.2 fields download_url and rdf_source
// are dropped, and the name loses the characters a 0.3 name may not hold
// (replaced by spaces) and is cut to 128 characters. The reference does it
// silently; zoo says what it changed with an INFO each.
func upgradeGeneric03(c *checker, root *yaml.Node) {
	if a := lookup(root, "attachments"); a != nil && a.Kind == yaml.MappingNode {
		c.warnf(Info, a, path{"attachments"}, "attachments {files: [...]} is the format 0.2 form; read as a list of {source: file}")
		set(root, "attachments", convertAttachments(a))
	}
	for _, k := range []string{"download_url", "rdf_source"} {
		if kn := keyNode(root, k); kn != nil {
			c.warnf(Info, kn, path{k}, "%s belongs to format 0.2 and is ignored in %s (dropped)", k, LatestGeneric)
			del(root, k)
		}
	}
	if n := lookup(root, "name"); n != nil && n.Tag == "!!str" {
		if conv := convertName(n, true); conv.Value != n.Value {
			c.warnf(Info, n, path{"name"}, "the name %q is read as %q: a 0.3 name holds only ASCII letters, digits, spaces and _ + - ( ), at most 128 of them", clip(n.Value, 60), clip(conv.Value, 60))
			n.Value = conv.Value
		}
	}
}

// validateGeneric03 validates dataset, application, notebook and generic
// descriptions of format 0.3.
func validateGeneric03(c *checker, root *yaml.Node, typ string) {
	moveVersionNumber(root)
	fields := genericBase03()
	fields = append(fields,
		field{key: "documentation", fair: true, check: fileSource{suffixes: []string{".md"}, caseSensitive: true, noReserved: true}.rule},
		field{key: "badges", check: listRule(0, badgeRule)},
		field{key: "config", check: configRule03},
	)
	extra := false
	switch typ {
	case "dataset":
		fields = append(fields,
			field{key: "id", check: resourceIDRule},
			field{key: "parent", check: resourceIDRule},
			field{key: "source", fair: true, check: httpURLRule})
	case "application":
		fields = append(fields,
			field{key: "id", check: resourceIDRule},
			field{key: "parent", check: resourceIDRule},
			field{key: "source", fair: true, check: anyFile.rule})
	case "notebook":
		fields = append(fields,
			field{key: "id", check: resourceIDRule},
			field{key: "parent", check: resourceIDRule},
			field{key: "source", required: true, check: fileSource{suffixes: []string{".ipynb"}, caseSensitive: true}.rule})
	default:
		if err := genericTypeError(typ); err != "" {
			c.errorf(lookup(root, "type"), path{"type"}, "%s", err)
		}
		extra = true // generic descriptions ignore unknown keys
		fields = append(fields,
			field{key: "id", check: resourceIDRule},
			field{key: "parent", check: resourceIDRule},
			field{key: "source", check: httpURLRule})
	}
	c.object(root, nil, fields, extra)
	checkMaintainers(c, root)
}

// genericTypeError rejects types that have their own description class, and
// malformed type names.
func genericTypeError(typ string) string {
	switch typ {
	case "application", "dataset", "model", "notebook":
		return fmt.Sprintf("Use the %s description instead of the generic one", typ)
	case "collection":
		return "Use the collection description instead: collections are not resource descriptions since format 0.5.3; describe each resource on its own"
	}
	if typ != strings.ToLower(typ) || !typeNameRE.MatchString(typ) {
		return fmt.Sprintf("type %q must be lower case (a-z, 0-9, _ and -)", clip(typ, 40))
	}
	return ""
}
