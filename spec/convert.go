package spec

import (
	"errors"

	"go.yaml.in/yaml/v3"
)

// ConvertModel04To05 converts a model description of format 0.3/0.4 into a
// new 0.5.7 tree (reference §16). Work in progress.
func ConvertModel04To05(root *yaml.Node) (*yaml.Node, error) {
	return nil, errors.New("not implemented yet")
}

// ConvertGeneric02To03 converts a 0.2 dataset/application/notebook/generic
// description into a 0.3.0 tree. Work in progress.
func ConvertGeneric02To03(root *yaml.Node) *yaml.Node { return root }
