package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/sqlstore"
)

// importFixture makes a data directory with account "acme" and app "bot".
func importFixture(t *testing.T) (dataDir string) {
	t.Helper()
	dataDir = t.TempDir()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, sqlstore.Config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	data, err := catalog.Example("credits-platform")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.SyncCatalog(ctx, "credits-platform", data); err != nil {
		t.Fatal(err)
	}
	a, err := db.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "acme", Name: "Acme", Catalog: "credits-platform"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateApp(ctx, a.ID, billow.CreateAppInput{ExternalID: "bot", Name: "Bot"}); err != nil {
		t.Fatal(err)
	}
	return dataDir
}

func storedEvents(t *testing.T, dataDir string) int64 {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), sqlstore.Config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n, err := db.CountEvents(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestImportResumesAfterInterrupt interrupts a real `billow events import` with SIGINT
// and runs it again: it resumes after the last committed batch, and every valid event is
// stored once.
func TestImportResumesAfterInterrupt(t *testing.T) {
	dataDir := importFixture(t)
	const events = 5_000
	var file bytes.Buffer
	for i := range events {
		if i == 17 {
			file.WriteString("\n") // blank lines are skipped
		}
		app := "bot"
		if i == 123 {
			app = "ghost" // one invalid event, reported with its line
		}
		fmt.Fprintf(&file, `{"specversion":"1.0","id":"imp-%d","source":"backfill","type":"api.request","subject":"acme","time":"2026-01-%02dT10:00:00Z","data":{"app":%q,"client":"c%d"}}`+"\n",
			i, 1+i%28, app, i%50)
	}
	path := filepath.Join(t.TempDir(), "usage.ndjson")
	if err := os.WriteFile(path, file.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"events", "import", path, "--data-dir", dataDir, "--batch", "100"}

	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "BILLOW_TEST_RUN_AS_BILLOW=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(path + ".billow-import"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint after 60 s:\n%s", out.String())
		}
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err == nil {
		t.Logf("the import finished before the signal:\n%s", out.String())
	}
	first := out.String()
	if !strings.Contains(first, "interrupted after line") {
		t.Fatalf("first run did not stop at a batch boundary:\n%s", first)
	}
	if n := storedEvents(t, dataDir); n == 0 || n >= events-1 {
		t.Fatalf("after the interrupt %d events are stored; want some, not all", n)
	}

	out.Reset()
	if code := run(args, &out, &out); code != 0 {
		t.Fatalf("second run exit %d:\n%s", code, out.String())
	}
	second := out.String()
	if !regexp.MustCompile(`resuming at line \d+`).MatchString(second) {
		t.Fatalf("second run did not resume:\n%s", second)
	}
	if n := storedEvents(t, dataDir); n != events-1 {
		t.Fatalf("%d events stored, want %d", n, events-1)
	}
	all := first + second
	if !strings.Contains(all, `line 125: unknown_app`) {
		t.Fatalf("the invalid event is not reported with its line:\n%s", all)
	}
	if _, err := os.Stat(path + ".billow-import"); !os.IsNotExist(err) {
		t.Fatal("the checkpoint is left after a complete import")
	}
	// Importing again from the start: all duplicates, nothing new.
	out.Reset()
	if code := run(args, &out, &out); code != 0 || !strings.Contains(out.String(), fmt.Sprintf("0 accepted, %d duplicates, 1 rejected", events-1)) {
		t.Fatalf("re-import = %d:\n%s", code, out.String())
	}
}

func TestImportCSV(t *testing.T) {
	dataDir := importFixture(t)
	csv := "id,source,type,subject,time,data\n" +
		"c1,crm,search.ingested,acme,2026-01-02T03:04:05Z,\"{\"\"app\"\":\"\"bot\"\",\"\"bytes\"\":2048}\"\n" +
		"c2,crm,llm.usage,acme,2026-01-02T03:05:00Z,\"{\"\"app\"\":\"\"bot\"\",\n\"\"provider\"\":\"\"openai\"\",\"\"model\"\":\"\"gpt-4o\"\",\"\"input_tokens\"\":10,\"\"output_tokens\"\":5}\"\n" +
		"c3,crm,search.ingested,acme,not-a-time,\"{\"\"app\"\":\"\"bot\"\",\"\"bytes\"\":1}\"\n"
	path := filepath.Join(t.TempDir(), "usage.csv")
	if err := os.WriteFile(path, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := run([]string{"events", "import", path, "--data-dir", dataDir}, &out, &out); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "line 5: invalid_time") || !strings.Contains(out.String(), "2 accepted, 0 duplicates, 1 rejected") {
		t.Fatalf("output:\n%s", out.String())
	}
	if n := storedEvents(t, dataDir); n != 2 {
		t.Fatalf("%d events stored, want 2", n)
	}
	out.Reset()
	if code := run([]string{"meters", "rebuild", "--data-dir", dataDir}, &out, &out); code != 0 ||
		!strings.Contains(out.String(), "[1/1] acme: 2 events") || !strings.Contains(out.String(), "rebuilt the rollups of 1 accounts from 2 events") {
		t.Fatalf("meters rebuild = %d:\n%s", code, out.String())
	}
}

// TestLedgerVerifyCommand runs billow ledger verify on a store with a few movements, then
// on the same store with a transfer's amount changed behind its back.
func TestLedgerVerifyCommand(t *testing.T) {
	dataDir := importFixture(t)
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, sqlstore.Config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.CreateGrant(ctx, billow.CreateGrantInput{Account: "acme", Kind: billow.GrantPaid, AmountUcr: 5_000_000, ID: "pack"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Spend(ctx, billow.SpendInput{Account: "acme", AmountUcr: 1_000_000, ID: "u1", Cause: billow.CauseUsage}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	var out bytes.Buffer
	if code := run([]string{"ledger", "verify", "--data-dir", dataDir}, &out, &out); code != 0 || !strings.Contains(out.String(), "read 2 transfers and 4 entries") ||
		!strings.Contains(out.String(), "ok:") {
		t.Fatalf("ledger verify = %d:\n%s", code, out.String())
	}
	raw, err := sql.Open("sqlite", filepath.Join(dataDir, "billow.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE ledger_transfers SET amount_ucr = 2 WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"ledger", "verify", "--data-dir", dataDir}, &out, &out); code == 0 || !strings.Contains(out.String(), "problem: transfer 2 (u1)") {
		t.Fatalf("ledger verify after tampering = %d:\n%s", code, out.String())
	}
}
