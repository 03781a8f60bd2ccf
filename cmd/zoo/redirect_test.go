package main

import (
	"strings"
	"testing"
)

func TestDownloadRedirectSetting(t *testing.T) {
	disk := &storage{}
	t.Setenv(redirectEnv, "")
	if r, err := downloadRedirect(disk); err != nil || r.Presigner != nil {
		t.Errorf("unset: %+v %v", r, err)
	}
	t.Setenv(redirectEnv, "8")
	if _, err := downloadRedirect(disk); err == nil || !strings.Contains(err.Error(), "s3://") {
		t.Errorf("on a store that cannot sign: %v", err)
	}
	t.Setenv(redirectEnv, "lots")
	if _, err := downloadRedirect(disk); err == nil || !strings.Contains(err.Error(), redirectEnv) {
		t.Errorf("bad value: %v", err)
	}
}
