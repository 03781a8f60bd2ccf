package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/catalog"
	"github.com/zoo-bioimage/zoo/web"
)

func newAdminCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Manage users and API tokens directly in the storage (no server needed)",
		Long: `admin works on an instance's catalog directly, as its operator: it needs no
server and no token, only access to the storage (--data DIR, or --db URL).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageErr("name an admin command (token, tokens, revoke, backup, copy-blobs); see zoo admin --help")
		},
	}
	cmd.AddCommand(newAdminTokenCmd(), newAdminRevokeCmd(), newAdminTokensCmd(), newAdminBackupCmd(), newAdminCopyBlobsCmd())
	return cmd
}

// adminStorageCheck refuses to let an admin command create a data folder
// implicitly: run from another folder, zoo admin token used to create an
// empty ./zoo-data whose token the running server then called "unknown or
// revoked". With embedded storage (no --db) the folder must exist; fresh
// is its catalog's path when the folder has none yet (a new instance),
// for the command to say so.
func adminStorageCheck(sf storageFlags) (fresh string, err error) {
	if sf.db != "" {
		return "", nil
	}
	abs, aerr := filepath.Abs(sf.data)
	if aerr != nil {
		abs = sf.data
	}
	st, err := os.Stat(sf.data)
	if err != nil || !st.IsDir() {
		return "", usageErr("there is no zoo data folder at %s: run zoo admin in the folder where zoo serve was started, or give the server's folder with --data DIR (or its --db); to start a new instance, create the folder first (mkdir -p %s)", abs, abs)
	}
	cat := filepath.Join(abs, "zoo.db")
	if _, err := os.Stat(cat); err != nil {
		return cat, nil
	}
	return "", nil
}

func newAdminTokenCmd() *cobra.Command {
	var sf storageFlags
	var user, role, name string
	var days int
	cmd := &cobra.Command{
		Use:   "token --data DIR --user NAME [--role contributor|reviewer|admin] [--name TOKEN-NAME] [--expires-in-days N]",
		Short: "Create an API token for a user (creating the user if missing) and print it",
		Long: `token creates a new API token for the user NAME and prints it, alone, on
standard output — the only time it is shown: the catalog keeps only its
SHA-256. The user is created when missing (with --role, default
contributor); --role also changes an existing user's role. This is how an
empty instance gets its first reviewer and admin.

--name names the token (unique among the user's active tokens; default
token-ID), --expires-in-days makes it stop working after N days (default:
never). zoo admin tokens lists a user's tokens, zoo admin revoke --user
NAME --name TOKEN-NAME revokes one by name.

Use the token with the client commands (--token, or the environment
variable ZOO_TOKEN) or as "Authorization: Bearer TOKEN" in API requests.

` + storageHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			user = strings.TrimSpace(user)
			if user == "" {
				return usageErr("--user NAME is required")
			}
			r := zoo.Role(role)
			if role != "" && r.Rank() == 0 {
				return usageErr("--role %q: use contributor, reviewer or admin", role)
			}
			if name != "" {
				if err := catalog.CheckTokenName("admin", name); err != nil {
					return usageErr("--name %q: %s", name, zoo.MessageOf(err))
				}
			}
			if days < 0 || days > web.MaxTokenDays {
				return usageErr("--expires-in-days %d: give 1 to %d, or 0 for a token that does not expire", days, web.MaxTokenDays)
			}
			ctx := cmd.Context()
			fresh, err := adminStorageCheck(sf)
			if err != nil {
				return err
			}
			st, err := openStorage(ctx, withMode(sf, catalog.MigrateFresh), false)
			if err != nil {
				return err
			}
			defer st.Close()
			if fresh != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "zoo admin: NOTE: %s had no catalog; a new, empty one was created there. A server started with another --data folder does not know this token.\n", fresh)
			}
			u, err := st.cat.UserByName(ctx, user)
			created := false
			switch {
			case zoo.KindOf(err) == zoo.NotFound:
				if r == "" {
					r = zoo.RoleContributor
				}
				if u, err = st.cat.CreateUser(ctx, user, r); err != nil {
					return err
				}
				created = true
				st.cat.AddAudit(ctx, zoo.AuditEntry{At: catalog.Now(), ActorID: u.ID, Action: "user.create", Detail: "zoo admin token: role " + string(r)})
			case err != nil:
				return err
			case r != "" && r != u.Role:
				if err := st.cat.SetRole(ctx, u.ID, r); err != nil {
					return err
				}
				st.cat.AddAudit(ctx, zoo.AuditEntry{At: catalog.Now(), ActorID: u.ID, Action: "user.role", Detail: fmt.Sprintf("zoo admin token: %s → %s", u.Role, r)})
				u.Role = r
			}
			secret := web.NewToken()
			var tok *zoo.Token
			if name == "" && days == 0 {
				tok, err = st.cat.CreateToken(ctx, u.ID, web.HashToken(secret))
			} else {
				if name == "" {
					name = "admin-" + catalog.Now().Format("20060102-150405")
				}
				var exp *time.Time
				if days > 0 {
					e := catalog.Now().Add(time.Duration(days) * 24 * time.Hour)
					exp = &e
				}
				tok, err = st.cat.CreateNamedToken(ctx, u.ID, web.HashToken(secret), name, exp)
			}
			if err != nil {
				return err
			}
			st.cat.AddAudit(ctx, zoo.AuditEntry{At: catalog.Now(), ActorID: u.ID, Action: "token.create", Detail: "zoo admin token: " + tok.Name})
			fmt.Fprintln(cmd.OutOrStdout(), secret)
			what := "existing"
			if created {
				what = "new"
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "zoo admin: token %s created for %s user %s (%s); it is not shown again\n", tok.Name, what, u.Name, u.Role)
			return nil
		},
	}
	sf.register(cmd, false)
	cmd.Flags().StringVar(&user, "user", "", "the user's name")
	cmd.Flags().StringVar(&role, "role", "", "the user's role: contributor, reviewer or admin (default for a new user: contributor)")
	cmd.Flags().StringVar(&name, "name", "", "the token's name (default token-ID)")
	cmd.Flags().IntVar(&days, "expires-in-days", 0, "the token stops working after this many days (0: never)")
	return cmd
}

func newAdminRevokeCmd() *cobra.Command {
	var sf storageFlags
	var user, name string
	cmd := &cobra.Command{
		Use:   "revoke --data DIR (TOKEN | --user NAME --name TOKEN-NAME)",
		Short: "Revoke an API token: it no longer authenticates",
		Long: `revoke marks the token revoked in the catalog (by its SHA-256; the token
itself is never stored). Requests with it get 401 from then on, and the
web sessions made with it end. Pass "-" to read the token from standard
input, which keeps it out of the shell history; or name the token with
--user NAME --name TOKEN-NAME (zoo admin tokens lists the names).

` + storageHelp,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if name != "" || user != "" {
				if len(args) > 0 || name == "" || user == "" {
					return usageErr("give either the token, or --user NAME and --name TOKEN-NAME")
				}
				return adminRevokeByName(cmd, sf, user, name)
			}
			if len(args) == 0 {
				return usageErr("give the token to revoke (or - to read it from standard input), or --user NAME --name TOKEN-NAME")
			}
			secret := args[0]
			if secret == "-" {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 4096))
				if err != nil {
					return err
				}
				secret = string(b)
			}
			secret = strings.TrimSpace(secret)
			if secret == "" {
				return usageErr("give the token to revoke")
			}
			ctx := cmd.Context()
			if _, err := adminStorageCheck(sf); err != nil {
				return err
			}
			st, err := openStorage(ctx, withMode(sf, catalog.MigrateFresh), false)
			if err != nil {
				return err
			}
			defer st.Close()
			hash := web.HashToken(secret)
			u, err := st.cat.UserByToken(ctx, hash)
			if err != nil {
				if zoo.KindOf(err) == zoo.NotFound {
					return &exitError{code: 1, err: fmt.Errorf("no active token matches; it was never issued here or is already revoked")}
				}
				return err
			}
			if err := st.cat.RevokeToken(ctx, hash); err != nil {
				return err
			}
			st.cat.AddAudit(ctx, zoo.AuditEntry{At: catalog.Now(), ActorID: u.ID, Action: "token.revoke", Detail: "zoo admin revoke"})
			fmt.Fprintf(cmd.ErrOrStderr(), "zoo admin: a token of %s revoked\n", u.Name)
			return nil
		},
	}
	sf.register(cmd, false)
	cmd.Flags().StringVar(&user, "user", "", "with --name: the user whose token to revoke")
	cmd.Flags().StringVar(&name, "name", "", "with --user: the name of the token to revoke")
	return cmd
}

func adminRevokeByName(cmd *cobra.Command, sf storageFlags, user, name string) error {
	ctx := cmd.Context()
	if _, err := adminStorageCheck(sf); err != nil {
		return err
	}
	st, err := openStorage(ctx, withMode(sf, catalog.MigrateFresh), false)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.cat.UserByName(ctx, user)
	if err != nil {
		return err
	}
	t, err := st.cat.RevokeTokenByName(ctx, u.ID, name)
	if err != nil {
		if zoo.KindOf(err) == zoo.NotFound {
			return &exitError{code: 1, err: fmt.Errorf("%s has no active token named %q (zoo admin tokens --user %s lists them)", u.Name, name, u.Name)}
		}
		return err
	}
	st.cat.AddAudit(ctx, zoo.AuditEntry{At: catalog.Now(), ActorID: u.ID, Action: "token.revoke", Detail: "zoo admin revoke: " + t.Name})
	fmt.Fprintf(cmd.ErrOrStderr(), "zoo admin: token %s of %s revoked\n", t.Name, u.Name)
	return nil
}

func newAdminTokensCmd() *cobra.Command {
	var sf storageFlags
	var user string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "tokens --data DIR --user NAME [--json]",
		Short: "List a user's API tokens: names, creation, last use, expiry, revocation",
		Long: `tokens lists the user's API tokens, newest first, revoked and expired ones
too: name, when made, when last used (recorded at most once a minute), when
it expires and when it was revoked. The secrets are never stored, so never
shown. --json prints {"user": NAME, "tokens": [...]} with the fields of
GET /api/v1/tokens.

` + storageHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(user) == "" {
				return usageErr("--user NAME is required")
			}
			ctx := cmd.Context()
			if _, err := adminStorageCheck(sf); err != nil {
				return err
			}
			st, err := openStorage(ctx, withMode(sf, catalog.MigrateFresh), false)
			if err != nil {
				return err
			}
			defer st.Close()
			u, err := st.cat.UserByName(ctx, user)
			if err != nil {
				return err
			}
			list, err := st.cat.Tokens(ctx, u.ID)
			if err != nil {
				return err
			}
			now := catalog.Now()
			infos := make([]web.TokenInfo, 0, len(list))
			for _, t := range list {
				infos = append(infos, web.TokenInfoOf(t, now))
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"user": u.Name, "tokens": infos})
			}
			printTokens(cmd, infos)
			return nil
		},
	}
	sf.register(cmd, false)
	cmd.Flags().StringVar(&user, "user", "", "the user's name")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
