package main

import (
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxFetch bounds one downloaded file (the largest published weights are a
// few hundred MB).
const maxFetch = 4 << 30

var fetchClient = &http.Client{Timeout: 10 * time.Minute}

// httpFetch downloads a remote file referenced by a description, for the
// file checks of `zoo validate --fetch`.
func httpFetch(url string) (io.ReadCloser, error) {
	resp, err := fetchClient.Get(url)
	if err != nil {
		return nil, fmt.Errorf("download failed: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("download failed: %s answered %s", url, resp.Status)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(resp.Body, maxFetch), resp.Body}, nil
}
