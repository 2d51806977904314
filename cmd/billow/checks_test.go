package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/billowhq/billow/sqlstore/storetest"
)

// post sends a JSON body and decodes the answer into out, returning the status.
func (p *billowProcess) post(t *testing.T, path string, body, out any) int {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", p.url+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+p.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
	}
	return resp.StatusCode
}

// untilAllowed asks p's checker until its answer is want, and returns how long that took.
func untilAllowed(t *testing.T, p *billowProcess, check map[string]any, want bool) time.Duration {
	t.Helper()
	began := time.Now()
	for time.Since(began) < 10*time.Second {
		var r struct {
			Allowed bool   `json:"allowed"`
			Code    string `json:"code"`
		}
		if code := p.post(t, "/v1/checks", check, &r); code != 200 {
			t.Fatalf("check = %d", code)
		}
		if r.Allowed == want {
			return time.Since(began)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the check did not turn allowed=%v within 10 s", want)
	return 0
}

// TestChecksAcrossProcesses runs two `billow serve` processes on one PostgreSQL
// database: a change of the wallet made through one reaches the other's in-memory
// checks within its poll interval, and a hold captured from both at once is resolved once.
func TestChecksAcrossProcesses(t *testing.T) {
	url := storetest.Open(t, "postgres").URL
	args := []string{"--demo", "--demo-usage-days", "0", "--data-dir", t.TempDir(), "--database-url", url, "--checks-poll-interval", "250ms"}
	a := startBillow(t, args...)
	b := startBillow(t, args...)
	if code := a.post(t, "/v1/accounts", map[string]any{"external_id": "two-proc", "name": "Two processes", "catalog": "credits-platform", "plan": "free"}, nil); code != 201 {
		t.Fatalf("create account = %d", code)
	}
	start := map[string]any{"account": "two-proc", "action": "start_conversation"}
	untilAllowed(t, b, start, false) // b holds the account in memory now: no credits

	if code := a.post(t, "/v1/accounts/two-proc/grants", map[string]any{"kind": "paid", "amount_ucr": 10_000_000, "id": "pack"}, nil); code != 201 {
		t.Fatalf("grant = %d", code)
	}
	lag := untilAllowed(t, b, start, true)
	t.Logf("a grant made through one process was seen by the other's checks after %s", lag)

	var hold struct {
		Hold struct {
			ID string `json:"id"`
		} `json:"hold"`
	}
	if code := a.post(t, "/v1/holds", map[string]any{"account": "two-proc", "amount_ucr": 10_000_000, "id": "call"}, &hold); code != 201 {
		t.Fatalf("hold = %d", code)
	}
	lag = untilAllowed(t, b, start, false)
	t.Logf("a hold of every credit made through one process was seen by the other's checks after %s", lag)

	// 25 captures through each process at once: one succeeds.
	var ok, resolved atomic.Int64
	var wg sync.WaitGroup
	for i := range 50 {
		p := a
		if i%2 == 1 {
			p = b
		}
		wg.Go(func() {
			switch code := p.post(t, "/v1/holds/"+hold.Hold.ID+"/capture", map[string]any{"amount_ucr": 4_000_000}, nil); code {
			case 200:
				ok.Add(1)
			case 409:
				resolved.Add(1)
			default:
				t.Errorf("capture = %d", code)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || resolved.Load() != 49 {
		t.Fatalf("%d captures succeeded and %d were refused; want 1 and 49", ok.Load(), resolved.Load())
	}
	lag = untilAllowed(t, a, start, true) // 6 credits came back
	t.Logf("the capture's change reached the checks after %s", lag)
	var wallet struct {
		BalanceUcr int64 `json:"balance_ucr"`
		HeldUcr    int64 `json:"held_ucr"`
	}
	b.get(t, "/v1/accounts/two-proc/wallet", &wallet)
	if wallet.BalanceUcr != 6_000_000 || wallet.HeldUcr != 0 {
		t.Fatalf("wallet %+v; want 6 credits and nothing held", wallet)
	}
}
