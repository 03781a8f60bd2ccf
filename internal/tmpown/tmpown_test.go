//go:build unix

package tmpown

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestSweep: a live process's folder stays, a dead one's goes — the dead
// one made by a child process that is killed while holding it.
func TestSweep(t *testing.T) {
	if parent := os.Getenv("TMPOWN_CHILD"); parent != "" {
		d, err := Claim(parent, "run-")
		if err != nil {
			os.Exit(2)
		}
		os.WriteFile(filepath.Join(d.Path, "zoo-upload-1.zip"), make([]byte, 1<<20), 0o644)
		os.Stdout.WriteString(d.Path + "\n")
		os.Stdout.Close()
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	parent := t.TempDir()
	mine, err := Claim(parent, "run-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSweep$")
	cmd.Env = append(os.Environ(), "TMPOWN_CHILD="+parent)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	nr, _ := out.Read(buf)
	childDir := string(buf[:nr])
	childDir = childDir[:len(childDir)-1]
	// While the child lives, its folder stays.
	if n, err := Sweep(parent, "run-"); err != nil || n != 0 {
		t.Fatalf("Sweep with a live child = %d, %v; want 0", n, err)
	}
	cmd.Process.Kill() // a crash: nothing is cleaned up by the child
	cmd.Wait()
	if _, err := os.Stat(childDir); err != nil {
		t.Fatalf("the killed child's folder is not there to sweep: %v", err)
	}
	if n, err := Sweep(parent, "run-"); err != nil || n != 1 {
		t.Fatalf("Sweep after the child was killed = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(childDir); !os.IsNotExist(err) {
		t.Errorf("the dead child's folder is still there: %v", err)
	}
	if _, err := os.Stat(mine.Path); err != nil {
		t.Errorf("our own folder was swept: %v", err)
	}
	// A folder without an owner file: kept while young, swept when old.
	orphan := filepath.Join(parent, "run-orphan")
	os.Mkdir(orphan, 0o755)
	if n, _ := Sweep(parent, "run-"); n != 0 {
		t.Error("a fresh folder without owner was swept")
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(orphan, old, old)
	if n, _ := Sweep(parent, "run-"); n != 1 {
		t.Error("an old folder without owner was not swept")
	}
	// Other names are not touched.
	os.Mkdir(filepath.Join(parent, "other"), 0o755)
	if n, _ := Sweep(parent, "run-"); n != 0 {
		t.Error("a folder with another prefix was swept")
	}
	if err := mine.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mine.Path); !os.IsNotExist(err) {
		t.Errorf("Release left the folder: %v", err)
	}
}
