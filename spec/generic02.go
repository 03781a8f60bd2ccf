package spec

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// Dataset, application, notebook and generic descriptions of format 0.2
// (reference §15 "generic 0.2 base", §17).

// upgradeGeneric02 applies the 0.2.x → 0.2.4 upgrades in place, each step
// only for the format versions it was written for, as the reference's
// chain does (generic/_v0_2_converter.py): 0.2.0 and 0.2.1 become 0.2.2;
// 0.2.2 → 0.2.3 removes slashes from names; 0.2.3 → 0.2.4 makes
// config.bioimageio.nickname the id and nickname_icon the id_emoji. A
// description already at 0.2.4 keeps its id and id_emoji whatever its
// config says. Every version then has DOI and GitHub prefixes stripped and
// empty config sections dropped.
func upgradeGeneric02(root *yaml.Node) {
	fvNode := lookup(root, "format_version")
	fv := ""
	if fvNode != nil && fvNode.Tag == "!!str" {
		fv = strings.TrimSpace(fvNode.Value)
	}
	if fv == "0.2.0" || fv == "0.2.1" {
		fv = "0.2.2"
	}
	if fv == "0.2.2" {
		removeSlashesFromNames(root)
		fv = "0.2.3"
	}
	if fv == "0.2.3" {
		nicknameToID(root)
		fvNode.Value = "0.2.4"
	}
	if cite := lookup(root, "cite"); cite != nil && cite.Kind == yaml.SequenceNode {
		for _, e := range cite.Content {
			stripDOIPrefix(lookup(e, "doi"))
		}
	}
	for _, key := range []string{"authors", "maintainers"} {
		if list := lookup(root, key); list != nil && list.Kind == yaml.SequenceNode {
			for _, a := range list.Content {
				if g := lookup(a, "github_user"); g != nil && g.Tag == "!!str" {
					g.Value = strings.TrimPrefix(g.Value, "https://github.com/")
				}
			}
		}
	}
	if cfg := lookup(root, "config"); cfg != nil && cfg.Kind == yaml.MappingNode {
		if f := lookup(cfg, "future"); f != nil && isEmpty(f) {
			del(cfg, "future")
		}
		if len(cfg.Content) == 0 {
			del(root, "config")
		}
	}
}

// stripDOIPrefix turns https://doi.org/10.x into 10.x.
func stripDOIPrefix(n *yaml.Node) {
	if n == nil || n.Tag != "!!str" {
		return
	}
	for _, p := range []string{"https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "http://dx.doi.org/"} {
		n.Value = strings.TrimPrefix(n.Value, p)
	}
}

// validateGeneric02 validates a non-model description of format 0.2.4.
func validateGeneric02(c *checker, root *yaml.Node, typ string) {
	fields := genericBase02(false)
	extra := false
	switch typ {
	case "dataset", "application":
		fields = append(fields, field{key: "source", check: anyFile.rule}, field{key: "id", check: resourceIDRule02})
	case "notebook":
		fields = append(fields, field{key: "source", required: true, check: fileSource{suffixes: []string{".ipynb"}, caseSensitive: true}.rule},
			field{key: "id", check: resourceIDRule02})
	default:
		if err := genericTypeError(typ); err != "" {
			c.errorf(lookup(root, "type"), path{"type"}, "%s", err)
		}
		extra = true
		fields = append(fields, field{key: "source", check: anyFile.rule}, field{key: "id", check: resourceIDRule02})
	}
	c.object(root, nil, fields, extra)
}

// resourceIDRule02 lower-cases the id before checking it, as 0.2 did.
func resourceIDRule02(c *checker, n *yaml.Node, p path) {
	if n.Tag == "!!str" {
		n.Value = strings.ToLower(n.Value)
	}
	resourceIDRule(c, n, p)
}
