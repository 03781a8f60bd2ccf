package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/zoo-bioimage/zoo/web"
)

// zoo tokens: a user's own API tokens, through a server's API
// (GET/POST /api/v1/tokens, DELETE /api/v1/tokens/{name}). The operator
// manages anyone's with zoo admin token/tokens/revoke.
func newTokensCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokens (list | create NAME [--expires-in-days N] | revoke NAME) [--server URL] [--token T]",
		Short: "List, make and revoke your own API tokens on a zoo server",
		Long: `tokens manages the API tokens of the user whose token you give
(--token or ZOO_TOKEN), on the server (--server or ZOO_SERVER):

  zoo tokens list [--json]                      names, made, last used, expiry, state
  zoo tokens create NAME [--expires-in-days N]  prints the new token (only now)
  zoo tokens revoke NAME                        it stops working at once

Make one token per use (laptop, ci-upload, …) so that each can be
revoked alone. The web page /my/tokens does the same.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageErr("name a tokens command (list, create, revoke); see zoo tokens --help")
		},
	}
	var rf remoteFlags
	var asJSON bool
	list := &cobra.Command{
		Use:   "list [--json]",
		Short: "List your API tokens",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var got struct {
				Tokens []web.TokenInfo `json:"tokens"`
			}
			if err := challengeAPI(cmd.Context(), &rf, "GET", "/api/v1/tokens", "", nil, &got, nil); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(got)
			}
			printTokens(cmd, got.Tokens)
			return nil
		},
	}
	rf.register(list)
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	var rfc remoteFlags
	var days int
	var createJSON bool
	create := &cobra.Command{
		Use:   "create NAME [--expires-in-days N] [--json]",
		Short: "Make an API token and print it (it is not shown again)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, _ := json.Marshal(web.NewTokenRequest{Name: args[0], ExpiresInDays: days})
			var got web.NewTokenResponse
			if err := challengeAPI(cmd.Context(), &rfc, "POST", "/api/v1/tokens", "application/json", bytes.NewReader(body), &got, nil); err != nil {
				return err
			}
			if createJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(got)
			}
			fmt.Fprintln(cmd.OutOrStdout(), got.Token)
			exp := "does not expire"
			if got.ExpiresAt != nil {
				exp = "expires " + got.ExpiresAt.Format(time.RFC3339)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "zoo tokens: token %s made (%s); it is not shown again\n", got.Name, exp)
			return nil
		},
	}
	rfc.register(create)
	create.Flags().IntVar(&days, "expires-in-days", 0, "the token stops working after this many days (0: never)")
	create.Flags().BoolVar(&createJSON, "json", false, "print the token and its record as JSON")

	var rfr remoteFlags
	revoke := &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke one of your API tokens by name",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var got web.TokenInfo
			if err := challengeAPI(cmd.Context(), &rfr, "DELETE", "/api/v1/tokens/"+url.PathEscape(args[0]), "", nil, &got, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "token %s revoked\n", got.Name)
			return nil
		},
	}
	rfr.register(revoke)
	cmd.AddCommand(list, create, revoke)
	return cmd
}

// printTokens writes a table of tokens.
func printTokens(cmd *cobra.Command, infos []web.TokenInfo) {
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCREATED\tLAST USED\tEXPIRES\tSTATE")
	day := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04")
	}
	for _, t := range infos {
		state := "active"
		switch {
		case t.RevokedAt != nil:
			state = "revoked " + day(t.RevokedAt)
		case !t.Active:
			state = "expired"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, day(&t.CreatedAt), day(t.LastUsedAt), day(t.ExpiresAt), state)
	}
	tw.Flush()
}
