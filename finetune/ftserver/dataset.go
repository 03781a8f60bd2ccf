package ftserver

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/finetune"
	"github.com/zoo-bioimage/zoo/internal/yamledit"
)

// datasetZip is the package of a dataset description (generic format
// 0.2.4, type dataset) holding the job's training images (and masks) as
// attachments, with the run's checksums in its documentation.
func datasetZip(j *Job, rep *finetune.Report, dataDir string) ([]byte, error) {
	const op = "ftjob.datasetZip"
	dir, err := os.MkdirTemp(filepath.Dir(dataDir), "dataset-*")
	if err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot make a folder for the dataset")
	}
	defer os.RemoveAll(dir)
	var files []string
	for _, role := range []string{"images", "masks"} {
		entries, _ := os.ReadDir(filepath.Join(dataDir, role))
		for _, e := range entries {
			name := role + "_" + e.Name()
			b, err := os.ReadFile(filepath.Join(dataDir, role, e.Name()))
			if err != nil {
				return nil, zoo.E(op, zoo.Internal, err, "cannot read %s", e.Name())
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				return nil, zoo.E(op, zoo.Internal, err, "cannot write %s", name)
			}
			files = append(files, name)
		}
	}
	sort.Strings(files)
	var doc strings.Builder
	fmt.Fprintf(&doc, "# Training data of a fine-tuned model\n\nThe images %s used to fine-tune `%s/%d` with zoo (%s, %d iterations).\n\n| image | role | sha256 |\n|---|---|---|\n",
		j.Owner, j.Model, j.Version, j.Settings.Task, j.Settings.Iterations)
	for _, r := range rep.Train {
		fmt.Fprintf(&doc, "| %s | training | `%s` |\n", r.Name, r.SHA256)
	}
	for _, r := range rep.Validation {
		fmt.Fprintf(&doc, "| %s | held out | `%s` |\n", r.Name, r.SHA256)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte(doc.String()), 0o644); err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot write the documentation")
	}
	var y strings.Builder
	fmt.Fprintf(&y, "type: dataset\nformat_version: 0.2.4\nname: %q\ndescription: %q\nauthors:\n  - name: %q\ncite:\n  - text: %q\n    url: %q\nlicense: CC-BY-4.0\ndocumentation: README.md\ntags: [fine-tuning, training-data]\nattachments:\n  files:\n",
		"Training data for "+j.Model+" (fine-tuned)", fmt.Sprintf("%d image(s) used to fine-tune %s/%d (%s).", len(rep.Train)+len(rep.Validation), j.Model, j.Version, j.Settings.Task),
		j.Owner, "Fine-tuning data of "+j.Owner, "https://bioimage.io")
	for _, f := range files {
		fmt.Fprintf(&y, "    - %s\n", f)
	}
	if err := os.WriteFile(filepath.Join(dir, "rdf.yaml"), []byte(y.String()), 0o644); err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot write the dataset description")
	}
	pkg, _, err := bundle.Build(filepath.Join(dir, "rdf.yaml"), bundle.BuildOptions{})
	if err != nil {
		return nil, zoo.E(op, zoo.KindOf(err), err, "the training data cannot be packaged as a dataset: %s", zoo.MessageOf(err))
	}
	defer pkg.Close()
	var buf bytes.Buffer
	if _, _, err := bundle.Write(&buf, pkg); err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot write the dataset package")
	}
	return buf.Bytes(), nil
}

// setTrainingData names the dataset id as the model's training data.
func setTrainingData(desc, id string) error {
	b, err := os.ReadFile(desc)
	if err != nil {
		return zoo.E("ftjob", zoo.Internal, err, "cannot read the fine-tuned description")
	}
	doc, err := yamledit.Parse(b)
	if err != nil {
		return err
	}
	yamledit.Set(doc, "training_data", yamledit.Map("id", id))
	out, err := yamledit.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(desc, out, 0o644)
}
