package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	billowhttp "github.com/billowhq/billow/http"
	"github.com/billowhq/billow/ingest"
	"github.com/billowhq/billow/sqlstore"
)

type benchCmd struct {
	Ingest   benchIngestCmd   `cmd:"" help:"HTTP batch ingest end to end, beside a raw batched insert of the same rows into the same table."`
	Meters   benchMetersCmd   `cmd:"" help:"The meter engine on one core: sessionization and the concurrency sweep, beside sorting the same events."`
	Trends   benchTrendsCmd   `cmd:"" help:"The usage trends query over 90 days of demo usage (10 million events), beside a raw read of the same rollup cells."`
	Ledger   benchLedgerCmd   `cmd:"" help:"Credit spends with the no-overdraft check under concurrent callers (group commit), beside raw batched inserts of the same rows; one hot wallet beside the uniform load."`
	Checks   benchChecksCmd   `cmd:"" help:"Real-time checks answered from memory: latency in process, and throughput over HTTP beside a trivial handler on the same server."`
	Portal   benchPortalCmd   `cmd:"" help:"Every billing portal page's server time with 90 days of demo usage (10 million events) and billing history in the store, beside the 100 ms target."`
	Invoices benchInvoicesCmd `cmd:"" help:"An invoice run: many subscriptions renewed at once into invoices of 20 lines, charged by card, beside raw batched inserts of the same invoice rows."`
}

type benchIngestCmd struct {
	DatabaseURL string `env:"BILLOW_BENCH_DATABASE_URL" help:"postgres://… to measure PostgreSQL (a schema of its own is made and dropped); empty for SQLite in a temporary directory."`
	Events      int    `default:"200000" help:"Events to send, in batches of 1,000."`
	Clients     int    `default:"4" help:"Concurrent HTTP clients."`
	CPUProfile  string `name:"cpu-profile" type:"path" help:"Write a CPU profile of the HTTP ingest to this file (go tool pprof reads it)."`
}

// benchResult is one measured figure beside the limit it is compared with.
type benchResult struct {
	name, unit   string
	value, limit float64
	limitName    string
}

func (c *benchIngestCmd) Run(env *runEnv) error {
	ctx := env.ctx
	batches := max(1, c.Events/billow.EventBatchMax)
	db, cleanup, err := benchStore(ctx, c.DatabaseURL)
	if err != nil {
		return err
	}
	defer cleanup()
	var accounts [2]*billow.Account
	for i, ext := range []string{"bench-http", "bench-raw"} {
		if accounts[i], err = db.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: ext, Name: ext, Catalog: "credits-platform"}); err != nil {
			return err
		}
		for _, app := range []string{"front-desk", "sales"} {
			if _, err := db.CreateApp(ctx, accounts[i].ID, billow.CreateAppInput{ExternalID: app, Name: app}); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(env.stdout, "billow bench ingest: %d events in batches of %d, %d clients, %s (%s)\n",
		batches*billow.EventBatchMax, billow.EventBatchMax, c.Clients, db.Dialect(), db.Where())

	// The figure: HTTP end to end (decode, validate, deduplicate, commit) on a real listener.
	const key = "sk_bench_0123456789abcdefghijklmnopqrstu"
	srv := &http.Server{Handler: billowhttp.New(billowhttp.Config{Store: db, AdminKey: key, DefaultCatalog: "credits-platform",
		Ingester: ingest.New(db, billow.SystemClock{})})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go srv.Serve(ln)
	defer srv.Close()
	start := time.Now().Add(-60 * 24 * time.Hour).UTC()
	bodies := make([][]byte, batches)
	for b := range bodies {
		bodies[b] = benchBatch("bench-http", b, start)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.Clients}}
	latencies := make([]time.Duration, batches)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex // protects firstErr
		firstErr error
	)
	stopProfile, err := startCPUProfile(c.CPUProfile)
	if err != nil {
		return err
	}
	began := time.Now()
	for w := range c.Clients {
		wg.Go(func() {
			for b := w; b < batches; b += c.Clients {
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+ln.Addr().String()+"/v1/events", bytes.NewReader(bodies[b]))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", ingest.ContentTypeBatch)
				resp, err := client.Do(req)
				if err == nil {
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"accepted":1000`)) {
						err = fmt.Errorf("batch %d: %d %s", b, resp.StatusCode, body)
					}
				}
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				latencies[b] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	stopProfile()
	if firstErr != nil {
		return firstErr
	}
	httpRate := float64(batches*billow.EventBatchMax) / time.Since(began).Seconds()

	// The limit: the same rows, validated beforehand, inserted raw into the same table.
	tenantEvents := make([][]billow.UsageEvent, batches)
	apps, err := db.AllApps(ctx, accounts[1].ID)
	if err != nil {
		return err
	}
	for b := range tenantEvents {
		tenantEvents[b] = benchRows(accounts[1].ID, apps, b, start)
	}
	began = time.Now()
	for _, rows := range tenantEvents {
		if err := db.RawInsertEvents(ctx, rows); err != nil {
			return err
		}
	}
	rawRate := float64(batches*billow.EventBatchMax) / time.Since(began).Seconds()

	slices.Sort(latencies)
	limitName := "raw multi-row INSERT of the same rows into the same table"
	if db.Dialect() == sqlstore.Postgres {
		limitName = "raw binary COPY of the same rows into the same table"
	}
	results := []benchResult{{name: "HTTP batch ingest", unit: "events/s", value: httpRate, limit: rawRate, limitName: limitName}}
	printBench(env, results)
	fmt.Fprintf(env.stdout, "batch latency: p50 %s, p99 %s (%d batches)\n",
		latencies[len(latencies)/2].Round(time.Microsecond), latencies[len(latencies)*99/100].Round(time.Microsecond), batches)
	return nil
}

// benchStore opens a fresh, migrated store (see benchDatabase) with the shipped catalogs;
// cleanup closes and removes it.
func benchStore(ctx context.Context, databaseURL string) (*sqlstore.DB, func(), error) {
	dbURL, removeDatabase, err := benchDatabase(ctx, databaseURL)
	if err != nil {
		return nil, nil, err
	}
	db, err := sqlstore.Open(ctx, sqlstore.Config{URL: dbURL})
	if err != nil {
		removeDatabase()
		return nil, nil, err
	}
	cleanup := func() { db.Close(); removeDatabase() }
	if err := db.Migrate(ctx); err != nil {
		cleanup()
		return nil, nil, err
	}
	for _, name := range catalog.ExampleNames() {
		data, err := catalog.Example(name)
		if err == nil {
			_, _, err = db.SyncCatalog(ctx, name, data)
		}
		if err != nil {
			cleanup()
			return nil, nil, err
		}
	}
	return db, cleanup, nil
}

func printBench(env *runEnv, results []benchResult) {
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "figure\tvalue\tlimit\tratio\tlimit measured\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%.0f %s\t%.0f %s\t%.2f\t%s\t\n", r.name, r.value, r.unit, r.limit, r.unit, r.value/r.limit, r.limitName)
	}
	tw.Flush()
}

// startCPUProfile writes a CPU profile to path until the returned function is called;
// with no path it does nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// benchBatch is one request body of 1,000 realistic events for the subject.
func benchBatch(subject string, b int, start time.Time) []byte {
	var sb bytes.Buffer
	sb.WriteByte('[')
	for i := range billow.EventBatchMax {
		if i > 0 {
			sb.WriteByte(',')
		}
		k := b*billow.EventBatchMax + i
		fmt.Fprintf(&sb, `{"specversion":"1.0","id":"ev-%d","source":"bench","subject":%q,"time":%q,`,
			k, subject, start.Add(time.Duration(k)*50*time.Millisecond).Format(time.RFC3339Nano))
		switch k % 4 {
		case 0:
			fmt.Fprintf(&sb, `"type":"conversation.message","data":{"app":"front-desk","conversation":"conv-%d"}}`, k/20)
		case 1:
			fmt.Fprintf(&sb, `"type":"api.request","data":{"app":"sales","client":"client-%d"}}`, k%300)
		case 2:
			fmt.Fprintf(&sb, `"type":"voice.interaction","data":{"app":"front-desk","kind":"stt","seconds":%d.25}}`, k%90)
		default:
			fmt.Fprintf(&sb, `"type":"llm.usage","data":{"app":"sales","provider":"openai","model":"gpt-4o","input_tokens":%d,"output_tokens":350}}`, k%5000)
		}
	}
	sb.WriteByte(']')
	return sb.Bytes()
}

// benchRows are the rows benchBatch's events become, as ingest stores them.
func benchRows(accountID string, apps []*billow.App, b int, start time.Time) []billow.UsageEvent {
	rows := make([]billow.UsageEvent, billow.EventBatchMax)
	for i := range rows {
		k := b*billow.EventBatchMax + i
		app := apps[k%len(apps)]
		rows[i] = billow.UsageEvent{AccountID: accountID, Source: "bench", ID: fmt.Sprintf("ev-%d", k), Type: "conversation.message",
			Time: start.Add(time.Duration(k) * 50 * time.Millisecond), AppID: app.ID, Stream: fmt.Sprintf("conv-%d", k/20),
			Data:        []byte(fmt.Sprintf(`{"app":%q,"conversation":"conv-%d"}`, app.ID, k/20)),
			ContentHash: fmt.Sprintf("%032x", k), ReceivedAt: start}
	}
	return rows
}

// benchDatabase returns a fresh database: a SQLite file in a temporary directory, or a
// new schema in the given PostgreSQL. cleanup removes it.
func benchDatabase(ctx context.Context, pgURL string) (string, func(), error) {
	if pgURL == "" {
		dir, err := os.MkdirTemp("", "billow-bench-")
		if err != nil {
			return "", nil, err
		}
		return "sqlite:" + dir + "/" + sqlstore.SQLiteFileName, func() { os.RemoveAll(dir) }, nil
	}
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	schema := "billow_bench_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, err
	}
	u, err := url.Parse(pgURL)
	if err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		ctx := context.Background()
		if conn, err := pgx.Connect(ctx, pgURL); err == nil {
			conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			conn.Close(ctx)
		}
	}, nil
}
