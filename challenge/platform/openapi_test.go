package platform

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// Every API route's OpenAPI operation is JSON, declares each path
// parameter of its pattern, and refers only to components the core
// document has.
func TestOpenAPIOperations(t *testing.T) {
	core, err := os.ReadFile("../../web/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components map[string]map[string]json.RawMessage `json:"components"`
	}
	if err := json.Unmarshal(core, &doc); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, rt := range (&Handler{}).Routes() {
		_, path, _ := strings.Cut(rt.Pattern, " ")
		if !strings.HasPrefix(path, "/api/") {
			if rt.Doc != nil {
				t.Errorf("%s: a page with an OpenAPI operation", rt.Pattern)
			}
			continue
		}
		var op struct {
			OperationID string `json:"operationId"`
			Parameters  []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
			Responses map[string]json.RawMessage `json:"responses"`
		}
		if err := json.Unmarshal(rt.Doc, &op); err != nil {
			t.Errorf("%s: %v", rt.Pattern, err)
			continue
		}
		if op.OperationID == "" || ids[op.OperationID] || len(op.Responses) == 0 {
			t.Errorf("%s: operationId %q (missing or repeated) or no responses", rt.Pattern, op.OperationID)
		}
		ids[op.OperationID] = true
		for _, m := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(path, -1) {
			found := false
			for _, p := range op.Parameters {
				found = found || (p.Name == m[1] && p.In == "path")
			}
			if !found {
				t.Errorf("%s: path parameter %s is not declared", rt.Pattern, m[1])
			}
		}
		for _, ref := range regexp.MustCompile(`"#/components/(\w+)/(\w+)"`).FindAllStringSubmatch(string(rt.Doc), -1) {
			if doc.Components[ref[1]][ref[2]] == nil {
				t.Errorf("%s: $ref to %s/%s, which the core document lacks", rt.Pattern, ref[1], ref[2])
			}
		}
	}
}
