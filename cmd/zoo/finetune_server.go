package main

// zoo finetune --server: the fine-tuning as a job on the server
// (/api/v1/finetune, package finetune/ftjob), its progress shown here,
// its draft downloaded at the end.

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/client"
	"github.com/zoo-bioimage/zoo/runner"
)

// finetuneJobOptions are the flags of a server job.
type finetuneJobOptions struct {
	model, images, masks, clean, out, task, target string
	iterations, patch, batch                       int
	lr                                             float64
	seed                                           int64
	publishData, asJSON                            bool
	poll                                           time.Duration
}

// dataZip writes images (and masks or clean images) into a zip at p:
// images/NAME, masks/NAME, clean/NAME; image files only.
func dataZip(p, images, masks, clean string) (int, error) {
	f, err := os.Create(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	n := 0
	for _, d := range []struct{ dir, role string }{{images, "images"}, {masks, "masks"}, {clean, "clean"}} {
		if d.dir == "" {
			continue
		}
		entries, err := os.ReadDir(d.dir)
		if err != nil {
			return 0, zoo.E("finetune", zoo.NotFound, err, "cannot read the folder %s", d.dir)
		}
		for _, e := range entries {
			if e.IsDir() || runner.ImageFormat(e.Name()) == "" || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			src, err := os.Open(filepath.Join(d.dir, e.Name()))
			if err != nil {
				return 0, err
			}
			w, err := zw.Create(d.role + "/" + e.Name())
			if err == nil {
				_, err = io.Copy(w, src)
			}
			src.Close()
			if err != nil {
				return 0, err
			}
			if d.role == "images" {
				n++
			}
		}
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return n, f.Close()
}

// runFinetuneJob submits the job, follows it and downloads its draft.
func runFinetuneJob(ctx context.Context, c *client.Client, o finetuneJobOptions, stdout, stderr io.Writer) error {
	if entries, err := os.ReadDir(o.out); err == nil && len(entries) > 0 {
		return usageErr("--out %s is not empty; give a new folder for the fine-tuned model", o.out)
	}
	tmp, err := os.MkdirTemp("", "zoo-finetune-submit-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	zp := filepath.Join(tmp, "data.zip")
	n, err := dataZip(zp, o.images, o.masks, o.clean)
	if err != nil {
		return err
	}
	q := url.Values{"model": {o.model}, "iterations": {strconv.Itoa(o.iterations)}, "patch": {strconv.Itoa(o.patch)},
		"batch": {strconv.Itoa(o.batch)}, "lr": {strconv.FormatFloat(o.lr, 'g', -1, 64)}, "seed": {strconv.FormatInt(o.seed, 10)}}
	if o.task != "" {
		q.Set("task", o.task)
	}
	if o.target != "" {
		q.Set("target", o.target)
	}
	if o.publishData {
		q.Set("publish_data", "true")
	}
	f, err := os.Open(zp)
	if err != nil {
		return err
	}
	j, err := c.SubmitFinetune(ctx, q, f)
	f.Close()
	if err != nil {
		return remoteErr(err)
	}
	emit := func(event string, j *client.FinetuneJob, extra map[string]any) {
		if !o.asJSON {
			return
		}
		m := map[string]any{"event": event, "id": j.ID, "state": j.State, "iteration": j.Iteration, "iterations": j.Iterations, "message": j.Message}
		if len(j.Losses) > 0 {
			m["loss"] = j.Losses[len(j.Losses)-1]
		}
		for k, v := range extra {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		fmt.Fprintf(stdout, "%s\n", b)
	}
	emit("submitted", j, map[string]any{"images": n, "retention": j.Retention})
	if !o.asJSON {
		fmt.Fprintf(stderr, "zoo finetune: job %s on %s (%d images); %s\n", j.ID, c.Server(), n, j.Retention)
	}
	bar := progressBar{w: stderr, tty: isTTY(stderr) && !o.asJSON}
	lastIt, lastState, lastResumed := -1, "", 0
	for {
		if j.Iteration != lastIt || j.State != lastState || len(j.Resumed) != lastResumed {
			if len(j.Resumed) != lastResumed && lastResumed >= 0 {
				if len(j.Resumed) > 0 && !o.asJSON {
					bar.line(fmt.Sprintf("zoo finetune: resumed from the checkpoint at iteration %d on another worker", j.Resumed[len(j.Resumed)-1]))
				}
			}
			lastIt, lastState, lastResumed = j.Iteration, j.State, len(j.Resumed)
			emit("progress", j, nil)
			if !o.asJSON {
				bar.show(j)
			}
		}
		if j.Done() {
			break
		}
		select {
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c.CancelFinetune(cctx, j.ID)
			cancel()
			bar.end()
			return zoo.E("finetune", zoo.Unavailable, ctx.Err(), "interrupted: job %s was cancelled", j.ID)
		case <-time.After(o.poll):
		}
		nj, err := c.Finetune(ctx, j.ID)
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			return remoteErr(err)
		}
		j = nj
	}
	bar.end()
	if j.State != "succeeded" || j.Draft == nil {
		emit("done", j, map[string]any{"error": j.Error})
		msg := j.Error
		if msg == "" {
			msg = j.Message
		}
		fmt.Fprintf(stderr, "zoo finetune: job %s %s: %s\n", j.ID, j.State, msg)
		return failed
	}
	v, _, err := download(ctx, c, j.Draft.ID, j.Draft.Version, o.out, false)
	if err != nil {
		return remoteErr(err)
	}
	extra := map[string]any{"draft": fmt.Sprintf("%s/%d", v.ModelID, v.Number), "output": o.out, "metric": j.Metric, "before": j.Before, "after": j.After, "parent": j.Parent}
	if j.Dataset != nil {
		extra["dataset"] = fmt.Sprintf("%s/%d", j.Dataset.ID, j.Dataset.Version)
	}
	emit("done", j, extra)
	if !o.asJSON {
		fmt.Fprintf(stdout, "✔ fine-tuned on %s: %s\n", c.Server(), j.Message)
		keys := make([]string, 0, len(j.After))
		for k := range j.After {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(stdout, "  held-out %-5s %.4g → %.4g\n", strings.ToUpper(k), j.Before[k], j.After[k])
		}
		fmt.Fprintf(stdout, "  draft %s/%d (parent %s) downloaded to %s; submit it for review with: zoo review %s/%d submit\n", v.ModelID, v.Number, j.Parent, o.out, v.ModelID, v.Number)
	}
	return nil
}

// progressBar draws a job's progress on one terminal line, or prints a
// line per change elsewhere.
type progressBar struct {
	w     io.Writer
	tty   bool
	drawn bool
}

func (b *progressBar) show(j *client.FinetuneJob) {
	loss := ""
	if len(j.Losses) > 0 {
		loss = fmt.Sprintf(" loss %.4g", j.Losses[len(j.Losses)-1])
	}
	if !b.tty {
		fmt.Fprintf(b.w, "zoo finetune: %s %d/%d%s\n", j.State, j.Iteration, j.Iterations, loss)
		return
	}
	const width = 30
	done := 0
	if j.Iterations > 0 {
		done = min(width, width*j.Iteration/j.Iterations)
	}
	fmt.Fprintf(b.w, "\r\033[K%-9s [%s%s] %d/%d%s", j.State, strings.Repeat("█", done), strings.Repeat("·", width-done), j.Iteration, j.Iterations, loss)
	b.drawn = true
}

func (b *progressBar) line(s string) {
	b.end()
	fmt.Fprintln(b.w, s)
}

func (b *progressBar) end() {
	if b.tty && b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
	}
}

func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
