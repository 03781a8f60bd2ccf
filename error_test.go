package zoo

import "testing"

// A NotSupported message says "not supported:" once, whether or not its
// author wrote it too (the jobs API said "not supported: not supported: …").
func TestNotSupportedPrefixOnce(t *testing.T) {
	for _, msg := range []string{"jobs run models with one input", "not supported: jobs run models with one input"} {
		e := E("infer.runnable", NotSupported, nil, "%s", msg)
		if got, want := MessageOf(e), "not supported: jobs run models with one input"; got != want {
			t.Errorf("MessageOf(%q) = %q, want %q", msg, got, want)
		}
		if got, want := e.Error(), "infer.runnable: not supported: jobs run models with one input"; got != want {
			t.Errorf("Error(%q) = %q, want %q", msg, got, want)
		}
	}
}
