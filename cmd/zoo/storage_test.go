package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// With the catalog and the blobs both elsewhere, a --data given is not
// used (not even created), and the process says so and where its
// temporary files go (docs/deploy.md).
func TestDataIgnoredInScaleOut(t *testing.T) {
	dir := t.TempDir()
	for _, withData := range []bool{true, false} {
		c := &cobra.Command{}
		var sf storageFlags
		sf.register(c, true)
		args := []string{"--db", filepath.Join(dir, "zoo.db"), "--blobs", filepath.Join(dir, "blobs")}
		if withData {
			args = append(args, "--data", filepath.Join(dir, "unused"))
		}
		if err := c.ParseFlags(args); err != nil {
			t.Fatal(err)
		}
		st, err := openStorage(t.Context(), sf, true)
		if err != nil {
			t.Fatal(err)
		}
		desc := joinDesc(st.desc)
		st.Close()
		if got := strings.Contains(desc, "is not used"); got != withData || withData && !strings.Contains(desc, os.TempDir()) {
			t.Errorf("--data given %v: %q", withData, desc)
		}
		if _, err := os.Stat(filepath.Join(dir, "unused")); !os.IsNotExist(err) {
			t.Errorf("the unused data folder was created")
		}
	}
}
