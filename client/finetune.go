package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/zoo-bioimage/zoo"
)

// FinetuneJob is a fine-tuning job as the server shows it (GET
// /api/v1/finetune/{id}); Raw is the JSON itself.
type FinetuneJob struct {
	ID                  string             `json:"id"`
	Parent              string             `json:"parent"`
	State               string             `json:"state"`
	Iteration           int                `json:"iteration"`
	Iterations          int                `json:"iterations"`
	Fraction            float64            `json:"fraction"`
	Losses              []float64          `json:"losses"`
	Metric              string             `json:"metric"`
	Before              map[string]float64 `json:"before"`
	After               map[string]float64 `json:"after"`
	Message             string             `json:"message"`
	Error               string             `json:"error"`
	CheckpointIteration int                `json:"checkpoint_iteration"`
	Resumed             []int              `json:"resumed"`
	Draft               *struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
	} `json:"draft"`
	Dataset *struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
	} `json:"dataset"`
	Retention     string          `json:"retention"`
	DataDeletedAt *time.Time      `json:"data_deleted_at"`
	Raw           json.RawMessage `json:"-"`
}

// Done reports whether the job has ended.
func (j *FinetuneJob) Done() bool {
	return j.State == "succeeded" || j.State == "failed" || j.State == "cancelled"
}

// SubmitFinetune submits a zip of images (body) with the settings in q
// (model, task, iterations, lr, patch, batch, seed, target, publish_data).
func (c *Client) SubmitFinetune(ctx context.Context, q url.Values, body io.Reader) (*FinetuneJob, error) {
	req, err := c.request(ctx, http.MethodPost, "/api/v1/finetune", q, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/zip")
	return c.finetuneJob(req, "client.SubmitFinetune")
}

// Finetune returns the job id.
func (c *Client) Finetune(ctx context.Context, id string) (*FinetuneJob, error) {
	req, err := c.request(ctx, http.MethodGet, "/api/v1/finetune/"+url.PathEscape(id), nil, nil)
	if err != nil {
		return nil, err
	}
	return c.finetuneJob(req, "client.Finetune")
}

// CancelFinetune stops the job id.
func (c *Client) CancelFinetune(ctx context.Context, id string) (*FinetuneJob, error) {
	req, err := c.request(ctx, http.MethodPost, "/api/v1/finetune/"+url.PathEscape(id)+"/cancel", nil, nil)
	if err != nil {
		return nil, err
	}
	return c.finetuneJob(req, "client.CancelFinetune")
}

func (c *Client) finetuneJob(req *http.Request, op string) (*FinetuneJob, error) {
	resp, err := c.do(req, op)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, zoo.E(op, zoo.Unavailable, err, "the answer of %s was cut off", c.base.Host)
	}
	var j FinetuneJob
	if err := json.Unmarshal(data, &j); err != nil || j.ID == "" {
		return nil, zoo.E(op, zoo.Internal, err, "the server's answer is not a fine-tuning job: %s", snippet(data))
	}
	j.Raw = data
	return &j, nil
}
