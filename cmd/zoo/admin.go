package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

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
			return usageErr("name an admin command (token, revoke); see zoo admin --help")
		},
	}
	cmd.AddCommand(newAdminTokenCmd(), newAdminRevokeCmd())
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
	var user, role string
	cmd := &cobra.Command{
		Use:   "token --data DIR --user NAME [--role contributor|reviewer|admin]",
		Short: "Create an API token for a user (creating the user if missing) and print it",
		Long: `token creates a new API token for the user NAME and prints it, alone, on
standard output — the only time it is shown: the catalog keeps only its
SHA-256. The user is created when missing (with --role, default
contributor); --role also changes an existing user's role. This is how an
empty instance gets its first reviewer and admin.

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
			if _, err := st.cat.CreateToken(ctx, u.ID, web.HashToken(secret)); err != nil {
				return err
			}
			st.cat.AddAudit(ctx, zoo.AuditEntry{At: catalog.Now(), ActorID: u.ID, Action: "token.create", Detail: "zoo admin token"})
			fmt.Fprintln(cmd.OutOrStdout(), secret)
			what := "existing"
			if created {
				what = "new"
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "zoo admin: token created for %s user %s (%s); it is not shown again\n", what, u.Name, u.Role)
			return nil
		},
	}
	sf.register(cmd, false)
	cmd.Flags().StringVar(&user, "user", "", "the user's name")
	cmd.Flags().StringVar(&role, "role", "", "the user's role: contributor, reviewer or admin (default for a new user: contributor)")
	return cmd
}

func newAdminRevokeCmd() *cobra.Command {
	var sf storageFlags
	cmd := &cobra.Command{
		Use:   "revoke --data DIR TOKEN",
		Short: "Revoke an API token: it no longer authenticates",
		Long: `revoke marks the token revoked in the catalog (by its SHA-256; the token
itself is never stored). Requests with it get 401 from then on. Pass "-"
to read the token from standard input, which keeps it out of the shell
history.

` + storageHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
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
	return cmd
}
