package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// TestIngestSurvivesSIGKILL sends batches of events to a real billow process from several
// clients and kills it with SIGKILL in the middle. After a restart on the same database
// the clients resend every batch, acknowledged or not, and every event is stored exactly
// once: a batch is committed whole or not at all, and a resent one is deduplicated.
func TestIngestSurvivesSIGKILL(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			dataDir := t.TempDir()
			// No demo usage: the test counts every stored event as its own.
			args := []string{"--demo", "--demo-usage-days", "0", "--data-dir", dataDir}
			dbURL := "sqlite:" + dataDir + "/" + sqlstore.SQLiteFileName
			if engine == "postgres" {
				dbURL = storetest.Open(t, "postgres").URL
				args = append(args, "--database-url", dbURL)
			}
			const clients, batchesPerClient, perBatch = 4, 30, 200
			batches := make([][]byte, 0, clients*batchesPerClient)
			start := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
			for b := range clients * batchesPerClient {
				var events []string
				for i := range perBatch {
					at := start.Add(time.Duration(b*perBatch+i) * time.Second).Format(time.RFC3339)
					events = append(events, fmt.Sprintf(`{"specversion":"1.0","id":"k-%d-%d","source":"kill-test","type":"api.request",`+
						`"subject":"acme-bots","time":%q,"data":{"app":"receptionist","client":"c%d"}}`, b, i, at, i%7))
				}
				batches = append(batches, []byte("["+strings.Join(events, ",")+"]"))
			}

			p := startBillow(t, args...)
			var acked atomic.Int64
			send := func(p *billowProcess, batch []byte) (accepted, duplicates int, err error) {
				req, _ := http.NewRequestWithContext(context.Background(), "POST", p.url+"/v1/events", bytes.NewReader(batch))
				req.Header.Set("Authorization", "Bearer "+p.key)
				req.Header.Set("Content-Type", "application/cloudevents-batch+json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return 0, 0, err
				}
				defer resp.Body.Close()
				var out struct {
					Accepted, Duplicates int
					Rejected             []any
				}
				if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 || len(out.Rejected) > 0 {
					return 0, 0, fmt.Errorf("status %d, %v, %v", resp.StatusCode, err, out.Rejected)
				}
				return out.Accepted, out.Duplicates, nil
			}
			var wg sync.WaitGroup
			for c := range clients {
				wg.Go(func() {
					for b := c; b < len(batches); b += clients {
						if _, _, err := send(p, batches[b]); err != nil {
							return // the server died under us
						}
						acked.Add(1)
					}
				})
			}
			// Kill once some batches are in, while others are in flight.
			for acked.Load() < int64(clients*2) {
				time.Sleep(time.Millisecond)
			}
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			<-p.done
			if acked.Load() >= int64(len(batches)) {
				t.Fatalf("all %d batches were acknowledged before the kill; the test did not kill mid-stream", len(batches))
			}

			p = startBillow(t, args...)
			totalAccepted, totalDuplicates := 0, 0
			for _, batch := range batches {
				a, d, err := send(p, batch)
				if err != nil {
					t.Fatal(err)
				}
				totalAccepted, totalDuplicates = totalAccepted+a, totalDuplicates+d
			}
			db, err := sqlstore.Open(context.Background(), sqlstore.Config{URL: dbURL})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			stored, err := db.CountEvents(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			want := int64(len(batches) * perBatch)
			if stored != want {
				t.Fatalf("%d events stored after the resend, want exactly %d", stored, want)
			}
			// Whole batches: every event was either stored before the kill or after, never half a batch.
			if totalDuplicates%perBatch != 0 || totalAccepted%perBatch != 0 {
				t.Fatalf("resend accepted %d and found %d duplicates: a batch was half-written", totalAccepted, totalDuplicates)
			}
			t.Logf("%d batches acknowledged before SIGKILL; after restart %d events new, %d duplicates; %d stored",
				acked.Load(), totalAccepted, totalDuplicates, stored)
			p.cmd.Process.Signal(syscall.SIGTERM)
			p.waitExit(t)
		})
	}
}
