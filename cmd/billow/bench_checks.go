package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/checks"
	billowhttp "github.com/billowhq/billow/http"
)

type benchChecksCmd struct {
	DatabaseURL string        `env:"BILLOW_BENCH_DATABASE_URL" help:"postgres://… to measure PostgreSQL (a database of its own is made and dropped); empty for SQLite in a temporary directory."`
	Checks      int           `default:"1000000" help:"Checks answered in process."`
	Accounts    int           `default:"1000" help:"Accounts the checks spread over."`
	Clients     int           `default:"64" help:"Concurrent HTTP clients, each with keep-alive connections."`
	Duration    time.Duration `default:"5s" help:"How long each HTTP load runs."`
}

// benchAdminKey is the bootstrap key of the benchmark's server: compared by hash in memory,
// as a platform's operator key is after its first use.
const benchAdminKey = "sk_bench_checks_0123456789abcdefghij"

// Run answers checks in process (latency of each, from many goroutines), then over HTTP
// on loopback, beside a trivial handler served by the same kind of server to the same
// clients: the ratio says what Billow's auth, routing, validation and decision cost
// beyond the HTTP round trip itself.
func (c *benchChecksCmd) Run(env *runEnv) error {
	ctx := env.ctx
	if c.Checks < 1 || c.Accounts < 1 || c.Clients < 1 || c.Duration <= 0 {
		return fmt.Errorf("--checks, --accounts, --clients and --duration must be positive")
	}
	db, cleanup, err := benchStore(ctx, c.DatabaseURL)
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Fprintf(env.stdout, "billow bench checks: %d accounts, %s (%s)\n", c.Accounts, db.Dialect(), db.Where())
	refs := make([]string, c.Accounts)
	for i := range refs {
		refs[i] = fmt.Sprintf("checks-%d", i)
		a, err := db.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: refs[i], Name: "Checks bench", Catalog: "credits-platform", Plan: "pay_as_you_go"})
		if err != nil {
			return err
		}
		if _, _, err := db.CreateGrant(ctx, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPaid, AmountUcr: billow.MicroCreditsPerCredit, ID: "funds"}); err != nil {
			return err
		}
	}
	checker := checks.New(checks.Config{Store: db, Clock: billow.SystemClock{}, Logger: env.logger})
	for _, ref := range refs { // load every account, as a warm process holds them
		if _, err := checker.Check(ctx, billow.CheckInput{Account: ref, Action: billow.ActionStartConversation}); err != nil {
			return err
		}
	}

	// In process: every check timed, from as many goroutines as there are CPUs... and more.
	const workers = 64
	took := make([]time.Duration, c.Checks)
	var next atomic.Int64
	var wg sync.WaitGroup
	began := time.Now()
	for range workers {
		wg.Go(func() {
			for k := int(next.Add(1)) - 1; k < c.Checks; k = int(next.Add(1)) - 1 {
				t0 := time.Now()
				r, err := checker.Check(ctx, billow.CheckInput{Account: refs[k%len(refs)], Action: billow.ActionStartConversation})
				took[k] = time.Since(t0)
				if err != nil || !r.Allowed {
					panic(fmt.Sprintf("bench check refused: %+v, %v", r, err))
				}
			}
		})
	}
	wg.Wait()
	inProcessRate := float64(c.Checks) / time.Since(began).Seconds()
	slices.Sort(took)
	p50, p99, p999 := took[len(took)/2], took[len(took)*99/100], took[len(took)*999/1000]

	// Over HTTP: Billow's handler, then a trivial one, each on its own loopback listener.
	handler := billowhttp.New(billowhttp.Config{Store: db, AdminKey: benchAdminKey, DefaultCatalog: "credits-platform", Checker: checker})
	bodies := make([][]byte, len(refs))
	for i, ref := range refs {
		bodies[i], _ = json.Marshal(billow.CheckInput{Account: ref, Action: billow.ActionStartConversation})
	}
	billowRate, billowP99, err := c.httpLoad(ctx, handler, bodies)
	if err != nil {
		return err
	}
	trivial := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"allowed":true,"code":"allowed"}`))
	})
	trivialRate, trivialP99, err := c.httpLoad(ctx, trivial, bodies)
	if err != nil {
		return err
	}
	printBench(env, []benchResult{
		{name: "checks over HTTP", unit: "checks/s", value: billowRate, limit: trivialRate, limitName: "a trivial handler, same server and clients"},
		{name: "checks in process", unit: "checks/s", value: inProcessRate, limit: trivialRate, limitName: "(for scale) the trivial handler over HTTP"},
	})
	fmt.Fprintf(env.stdout, "in process: p50 %s, p99 %s, p99.9 %s per check (%d checks, %d goroutines)\n", p50, p99, p999, c.Checks, workers)
	fmt.Fprintf(env.stdout, "over HTTP: p99 %s (trivial handler p99 %s), %d clients\n",
		billowP99.Round(time.Microsecond), trivialP99.Round(time.Microsecond), c.Clients)
	return nil
}

// httpLoad serves handler on a loopback listener and posts bodies to /v1/checks from
// c.Clients clients for c.Duration; it returns the rate and the p99 of the answers.
func (c *benchChecksCmd) httpLoad(ctx context.Context, handler http.Handler, bodies [][]byte) (float64, time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: readHeaderTimeout}
	go srv.Serve(ln)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.Clients, MaxConnsPerHost: c.Clients}}
	url := "http://" + ln.Addr().String() + "/v1/checks"
	var done atomic.Int64
	var failed atomic.Pointer[error]
	lat := make([][]time.Duration, c.Clients)
	deadline := time.Now().Add(c.Duration)
	var wg sync.WaitGroup
	began := time.Now()
	for i := range c.Clients {
		wg.Go(func() {
			for k := i; time.Now().Before(deadline) && failed.Load() == nil; k += c.Clients {
				req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(bodies[k%len(bodies)]))
				req.Header.Set("Authorization", "Bearer "+benchAdminKey)
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("check answered %d", resp.StatusCode)
					}
				}
				if err != nil {
					failed.Store(&err)
					return
				}
				lat[i] = append(lat[i], time.Since(t0))
				done.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(began)
	if err := failed.Load(); err != nil {
		return 0, 0, *err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	return float64(done.Load()) / elapsed.Seconds(), all[len(all)*99/100], nil
}
