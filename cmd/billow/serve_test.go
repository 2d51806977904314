package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/billowhq/billow/sqlstore/storetest"
)

// billowProcess is `billow serve` running as a real process.
type billowProcess struct {
	cmd    *exec.Cmd
	url    string
	key    string
	stdout *lockedBuffer
	stderr *lockedBuffer
	done   chan error
}

type lockedBuffer struct {
	mu  sync.Mutex // protects buf
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var bannerPattern = regexp.MustCompile(`ready at (http://\S+)\n\s+operator key: (sk_\S+)`)

func startBillow(t *testing.T, args ...string) *billowProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "BILLOW_TEST_RUN_AS_BILLOW=1")
	p := &billowProcess{cmd: cmd, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("billow stdout:\n%s\nbillow stderr:\n%s", p.stdout, p.stderr)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := bannerPattern.FindStringSubmatch(p.stdout.String()); m != nil {
			p.url, p.key = m[1], m[2]
			return p
		}
		select {
		case err := <-p.done:
			t.Fatalf("billow exited before it was ready: %v\n%s", err, p.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("billow did not print its banner in 30 s\n%s", p.stderr)
	return nil
}

func (p *billowProcess) get(t *testing.T, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", p.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+p.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return resp.StatusCode
}

func (p *billowProcess) waitExit(t *testing.T) {
	t.Helper()
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("billow exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("billow did not exit 30 s after SIGTERM")
	}
}

// TestServeDemoAndGracefulShutdown runs `billow serve --demo` as a real process: the demo
// is there and usable with the printed key; a request in flight when SIGTERM arrives is
// answered before the process exits 0; a restart finds the demo in place, not doubled.
func TestServeDemoAndGracefulShutdown(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			// Two days of demo usage, not 90: enough to load it, and the test stays quick.
			args := []string{"--demo", "--demo-usage-days", "2", "--data-dir", t.TempDir()}
			if engine == "postgres" {
				args = append(args, "--database-url", storetest.Open(t, "postgres").URL)
			}
			p := startBillow(t, args...)
			if code := p.get(t, "/healthz", nil); code != 200 {
				t.Fatalf("healthz = %d", code)
			}
			if code := p.get(t, "/readyz", nil); code != 200 {
				t.Fatalf("readyz = %d", code)
			}
			var accounts struct {
				Data []struct {
					ExternalID string `json:"external_id"`
					Plan       string `json:"plan"`
					Type       string `json:"type"`
					Catalog    string `json:"catalog"`
				} `json:"data"`
			}
			p.get(t, "/v1/accounts", &accounts)
			got := map[string]string{}
			for _, a := range accounts.Data {
				got[a.ExternalID] = a.Type + "/" + a.Catalog + "/" + a.Plan
			}
			want := map[string]string{
				"northwind": "standard/ai-for-service/advanced", "globex": "enterprise/ai-for-service/enterprise",
				"acme-bots": "standard/credits-platform/pay_as_you_go", "hobbyist": "standard/credits-platform/free",
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("demo accounts = %v, want %v", got, want)
			}
			var apps struct {
				Data []struct {
					ID         string `json:"id"`
					ExternalID string `json:"external_id"`
					ParentApp  string `json:"parent_app"`
				} `json:"data"`
			}
			p.get(t, "/v1/accounts/northwind/apps", &apps)
			parents := map[string]string{}
			ids := map[string]string{}
			for _, a := range apps.Data {
				parents[a.ExternalID], ids[a.ID] = a.ParentApp, a.ExternalID
			}
			if ids[parents["billing-bot"]] != "support-bot" {
				t.Fatalf("billing-bot is not linked to support-bot: %+v", apps.Data)
			}

			// A request in flight at SIGTERM: headers and half the body sent before the
			// signal, the rest after. Draining must answer it.
			conn, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			body := `{"external_id":"late-customer","name":"Late Customer"}`
			fmt.Fprintf(conn, "POST /v1/accounts HTTP/1.1\r\nHost: billow\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
				p.key, len(body), body[:20])
			time.Sleep(200 * time.Millisecond)
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond)
			io.WriteString(conn, body[20:])
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("in-flight request was not answered: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != 201 {
				t.Fatalf("in-flight request = %d", resp.StatusCode)
			}
			p.waitExit(t)
			if !strings.Contains(p.stderr.String(), "shutting down") || !strings.Contains(p.stderr.String(), "msg=stopped") {
				t.Fatalf("no shutdown in the log:\n%s", p.stderr)
			}
			if log := p.stderr.String(); !strings.Contains(log, "demo usage loaded") || strings.Contains(log, "demo usage event rejected") {
				t.Fatalf("demo usage not loaded, or not all accepted:\n%s", log)
			}

			// Restart on the same database: the demo is found, not created twice.
			p = startBillow(t, args...)
			p.get(t, "/v1/accounts", &accounts)
			if len(accounts.Data) != 5 {
				t.Fatalf("after restart: %d accounts, want 4 demo accounts and late-customer", len(accounts.Data))
			}
			p.cmd.Process.Signal(syscall.SIGTERM)
			p.waitExit(t)
		})
	}
}
