// Command billow runs Billow: the API, the billing portal, the admin console and the
// background workers in one process, and the operator's commands beside them.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/jobs"
	"github.com/billowhq/billow/sqlstore"
)

// cli is every command and flag; kong reads defaults and environment variables from the tags.
type cli struct {
	LogLevel  string `default:"info" enum:"debug,info,warn,error" env:"BILLOW_LOG_LEVEL" help:"Log level: debug, info, warn or error."`
	LogFormat string `default:"text" enum:"text,json" env:"BILLOW_LOG_FORMAT" help:"Log format: text or json."`

	Serve   serveCmd   `cmd:"" help:"Run the API, portal, admin console and workers."`
	Migrate migrateCmd `cmd:"" help:"Apply pending database migrations and exit."`
	Catalog catalogCmd `cmd:"" help:"Work with catalog files."`
	Keys    keysCmd    `cmd:"" help:"Manage API keys."`
	Events  eventsCmd  `cmd:"" help:"Work with usage events."`
	Meters  metersCmd  `cmd:"" help:"Work with meters and their rollups."`
	Ledger  ledgerCmd  `cmd:"" help:"Work with the credit ledger."`
	Notify  notifyCmd  `cmd:"" help:"Look at the emails Billow sends: the catalogue and previews."`
	Admin   adminCmd   `cmd:"" help:"Manage the operators of the admin console."`
	Bench   benchCmd   `cmd:"" help:"Measure Billow beside the physical limits of this machine."`
	Version versionCmd `cmd:"" help:"Print the version."`
}

// storeFlags say where the database is.
type storeFlags struct {
	DataDir     string `default:"./billow-data" env:"BILLOW_DATA_DIR" help:"Directory for the embedded SQLite database and other local data."`
	DatabaseURL string `env:"BILLOW_DATABASE_URL" help:"postgres://… to use PostgreSQL; empty for SQLite in the data directory."`
}

// runEnv is what every command is given.
type runEnv struct {
	ctx    context.Context
	logger *slog.Logger
	stdout io.Writer
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var c cli
	parser, err := kong.New(&c, kong.Name("billow"),
		kong.Description("Billow: billing, metering, credits and payments for AI-agent and chatbot platforms."),
		kong.UsageOnError(), kong.Writers(stdout, stderr))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintln(stderr, "billow:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &runEnv{ctx: ctx, logger: newLogger(stderr, c.LogLevel, c.LogFormat), stdout: stdout}
	if err := kctx.Run(env); err != nil {
		fmt.Fprintln(stderr, "billow:", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(level)) // kong's enum already checked it
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openStore opens the database and applies pending migrations.
func openStore(env *runEnv, f storeFlags) (*sqlstore.DB, error) {
	db, err := sqlstore.Open(env.ctx, sqlstore.Config{URL: f.DatabaseURL, DataDir: f.DataDir, Logger: env.logger, Clock: billow.SystemClock{}})
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(env.ctx); err != nil {
		db.Close()
		return nil, err
	}
	// The job queue's own tables live beside Billow's, migrated at the same time.
	if err := jobs.Migrate(env.ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

type migrateCmd struct {
	storeFlags
}

func (m *migrateCmd) Run(env *runEnv) error {
	db, err := openStore(env, m.storeFlags)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(env.stdout, "migrations current on %s (%s)\n", db.Where(), db.Dialect())
	return nil
}

type keysCmd struct {
	Create keysCreateCmd `cmd:"" help:"Create an API key and print its secret once."`
}

type keysCreateCmd struct {
	storeFlags
	Name    string `required:"" help:"A name that says what the key is for."`
	Account string `help:"Id or external id of the account to scope the key to; omit for an operator key."`
}

func (k *keysCreateCmd) Run(env *runEnv) error {
	db, err := openStore(env, k.storeFlags)
	if err != nil {
		return err
	}
	defer db.Close()
	accountID := ""
	if k.Account != "" {
		a, err := db.Account(env.ctx, k.Account)
		if err != nil {
			return err
		}
		accountID = a.ID
	}
	key, secret, err := db.CreateAPIKey(env.ctx, k.Name, accountID)
	if err != nil {
		return err
	}
	scope := "operator"
	if accountID != "" {
		scope = "account " + accountID
	}
	fmt.Fprintf(env.stdout, "id:     %s\nscope:  %s\nsecret: %s\n\nThe secret is shown only now; Billow keeps its hash.\n", key.ID, scope, secret)
	return nil
}

type versionCmd struct{}

func (versionCmd) Run(env *runEnv) error {
	fmt.Fprintf(env.stdout, "billow %s\n", billow.Version)
	return nil
}
