package torch

import "testing"

// UnknownOperatorForTest is UnknownOperator for the tests of torch_test.
func UnknownOperatorForTest(t testing.TB, dst string) { UnknownOperator(t, dst) }
