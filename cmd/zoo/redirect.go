package main

import (
	"os"
	"strconv"
	"strings"

	"github.com/zoo-bioimage/zoo/blob"
	"github.com/zoo-bioimage/zoo/web"
)

// redirectEnv turns on redirects of large public downloads to presigned
// URLs of the S3 blob store: the smallest redirected file in MiB. Unset or
// 0: every download passes through the replica (the default, because
// clients must be able to reach the store: see the s3 URL's public=).
const redirectEnv = "ZOO_DOWNLOAD_REDIRECT_MIB"

// downloadRedirect is the web.Redirect the settings ask for on st.
func downloadRedirect(st *storage) (web.Redirect, error) {
	v := strings.TrimSpace(os.Getenv(redirectEnv))
	if v == "" || v == "0" {
		return web.Redirect{}, nil
	}
	mib, err := strconv.ParseInt(v, 10, 64)
	if err != nil || mib < 0 || mib > 1<<20 {
		return web.Redirect{}, usageErr("%s=%q: give the smallest redirected download in MiB (e.g. 8), or 0 for none", redirectEnv, v)
	}
	p, ok := st.blobs.(blob.Presigner)
	if !ok {
		return web.Redirect{}, usageErr("%s is set, but the blob store cannot sign download URLs: it needs --blobs s3://…", redirectEnv)
	}
	return web.Redirect{Presigner: p, MinBytes: mib << 20}, nil
}
