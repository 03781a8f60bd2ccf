package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/zoo-bioimage/zoo/search"
)

// maxSearchResponse bounds what zoo search reads of a server's answer.
const maxSearchResponse = 16 << 20

func newSearchCmd() *cobra.Command {
	var rf remoteFlags
	var asJSON bool
	var sortBy string
	var limit, offset int
	filters := map[string]*[]string{}
	cmd := &cobra.Command{
		Use:   "search --server URL [QUERY…] [--tag T]… [--json]",
		Short: "Search the published models of a zoo server",
		Long: `search asks the server for the published models matching QUERY (all of its
words, in name, description, tags, authors or documentation; the last word
also as a prefix) and the facet filters: --type, --tag, --license,
--weight-format, --dims (2d, 3d, time), --test (reproduces, runs, fails,
not-supported, pending), --tool. Values of one filter are alternatives
(repeat the flag or separate them with commas); different filters must all
match. Without QUERY it lists the newest models.

Output: a table (ID/N, name, type, test, downloads, tags) and the number
of matches; --json prints the hits as a JSON list of objects with id,
version, name, description, tags, authors, license, weight_formats, covers,
test, downloads, published_at, score.

` + remoteHelp,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			q := url.Values{}
			if text := strings.Join(args, " "); text != "" {
				q.Set("q", text)
			}
			for name, vs := range filters {
				for _, v := range *vs {
					q.Add(name, v)
				}
			}
			if sortBy != "" {
				q.Set("sort", sortBy)
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			if offset > 0 {
				q.Set("offset", strconv.Itoa(offset))
			}
			res, err := searchRemote(cmd, c.Server(), rf.tokenValue(), q)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(res.Hits)
			}
			writeSearchTable(out, res, offset)
			return nil
		},
	}
	rf.register(cmd)
	for _, f := range search.Facets {
		vs := &[]string{}
		filters[f] = vs
		cmd.Flags().StringSliceVar(vs, strings.ReplaceAll(f, "_", "-"), nil, "only models with this "+strings.ReplaceAll(f, "_", " ")+" (repeatable)")
	}
	cmd.Flags().StringVar(&sortBy, "sort", "", "relevance (default; date without QUERY), downloads or date")
	cmd.Flags().IntVar(&limit, "limit", 0, "hits to print (default 20, at most 100)")
	cmd.Flags().IntVar(&offset, "offset", 0, "hits to skip (for the next page)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the hits as a JSON list")
	return cmd
}

func (f *remoteFlags) tokenValue() string {
	if f.token != "" {
		return strings.TrimSpace(f.token)
	}
	return strings.TrimSpace(os.Getenv("ZOO_TOKEN"))
}

// searchRemote sends GET /api/v1/search. A refusal (4xx) exits 1 with the
// server's problem detail; anything else that fails exits 3.
func searchRemote(cmd *cobra.Command, server, token string, q url.Values) (*search.Results, error) {
	req, err := http.NewRequestWithContext(cmd.Context(), "GET", server+"/api/v1/search?"+q.Encode(), nil)
	if err != nil {
		return nil, usageErr("--server: %v", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "zoo-cli")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: %w", server, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSearchResponse+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s: %w", server, err)
	}
	if len(body) > maxSearchResponse {
		return nil, fmt.Errorf("the answer of %s is larger than %d bytes", server, maxSearchResponse)
	}
	if resp.StatusCode != http.StatusOK {
		var p struct{ Title, Detail string }
		msg := resp.Status
		if json.Unmarshal(body, &p) == nil && (p.Detail != "" || p.Title != "") {
			msg = strings.TrimSpace(p.Title + ": " + p.Detail)
		}
		if resp.StatusCode >= 400 && resp.StatusCode < 500 {
			return nil, &exitError{code: 1, err: errors.New(msg)}
		}
		return nil, fmt.Errorf("%s: %s", server, msg)
	}
	var res search.Results
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, fmt.Errorf("the answer of %s is not search results: %w", server, err)
	}
	if res.Hits == nil {
		res.Hits = []search.Hit{}
	}
	return &res, nil
}

func writeSearchTable(w io.Writer, res *search.Results, offset int) {
	if len(res.Hits) == 0 {
		fmt.Fprintf(w, "no models found (%d matches)\n", res.Total)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID/N\tNAME\tTYPE\tTEST\tDOWNLOADS\tTAGS")
	for _, h := range res.Hits {
		fmt.Fprintf(tw, "%s/%d\t%s\t%s\t%s\t%d\t%s\n", h.ID, h.Version, searchCut(searchOneLine(h.Name), 40), h.Type, h.Test, h.Downloads, searchCut(strings.Join(h.Tags, ", "), 40))
	}
	tw.Flush()
	fmt.Fprintf(w, "%d–%d of %d\n", offset+1, offset+len(res.Hits), res.Total)
}

// searchOneLine keeps a table cell on one line.
func searchOneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// searchCut shortens s to n runes with an ellipsis.
func searchCut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
