package spec

import "go.yaml.in/yaml/v3"

// upgradeModel04 applies the 0.3.x/0.4.x → 0.4.10 upgrade chain in place.
func upgradeModel04(root *yaml.Node) {}

// validateModel04 validates a model description of format 0.4.10.
func validateModel04(c *checker, root *yaml.Node) {}
