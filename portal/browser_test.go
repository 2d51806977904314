package portal_test

import (
	"context"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// The browser tests drive Debian's chromium (headless) through the portal as a customer
// would, against a real listener and a SQLite store holding the demo's accounts, 90 days
// of their usage and months of billing history. Each step saves a screenshot in
// $BILLOW_SCREENSHOTS, or in the test's temporary directory.

// browserTimeout bounds the whole walk, chromium's start included.
const browserTimeout = 4 * time.Minute

// chromiumPath finds chromium. Without it the test skips, except in CI (CI set), where
// .ci/run installs it and a missing browser is a failure.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("BILLOW_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed, and CI is set: .ci/run installs Debian's chromium for the browser tests")
	}
	t.Skip("chromium is not installed: the portal's browser tests need it (apt-get install chromium, or BILLOW_CHROMIUM=path)")
	return ""
}

// screenshotDir is where the screenshots go: $BILLOW_SCREENSHOTS, or a temporary
// directory that lives as long as the test.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("BILLOW_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tab is one chromium tab on the portal.
type tab struct {
	t         *testing.T
	ctx       context.Context
	shots     string
	downloads string
}

func newTab(t *testing.T) *tab {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.WindowSize(1280, 900),
		chromedp.DisableGPU, chromedp.Flag("hide-scrollbars", true), chromedp.Flag("lang", "en-US"))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // chromium refuses to run as root with its sandbox
	}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), browserTimeout)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	cctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc(); cancelTimeout() })
	tb := &tab{t: t, ctx: cctx, shots: screenshotDir(t), downloads: t.TempDir()}
	// The first action starts the browser, which lives as long as the context it ran
	// with: tb.ctx, not a step's. Downloads land in a directory the test reads, named by
	// their GUID.
	err := chromedp.Do(cctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		yes := true
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: tb.downloads, EventsEnabled: &yes})
		return err
	}))
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Logf("screenshots in %s", tb.shots)
	return tb
}

// stepTimeout bounds one step, so that a step that waits for what never comes fails
// alone instead of using up the whole walk's time.
const stepTimeout = 30 * time.Second

func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatal(err)
	}
}

func run[T any](tb *tab, a chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.t.Fatal(err)
	}
	return v
}

// eval runs JavaScript in the page and returns its value.
func eval[T any](tb *tab, js string) T {
	tb.t.Helper()
	return run(tb, chromedp.Evaluate[T](js))
}

// load runs an action that leaves the page (a link, a form) and waits for the next one.
func (tb *tab) load(trigger chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	run(tb, chromedp.WaitEvent(cdppage.LoadEventFired, nil, trigger))
}

// shot saves a screenshot of the whole page.
func (tb *tab) shot(name string) {
	tb.t.Helper()
	png := run(tb, chromedp.FullScreenshot(100))
	p := filepath.Join(tb.shots, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot %s", p)
}

// shotView saves a screenshot of what the window shows.
func (tb *tab) shotView(name string) {
	tb.t.Helper()
	png := run(tb, chromedp.CaptureScreenshot())
	p := filepath.Join(tb.shots, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot %s", p)
}

func (tb *tab) location() string { return run(tb, chromedp.Location()) }

func (tb *tab) text(sel string) string { return run(tb, chromedp.Text(chromedp.CSS(sel))) }

func (tb *tab) count(sel string) int {
	return eval[int](tb, `document.querySelectorAll(`+jsString(sel)+`).length`)
}

// choose picks an option of a select as a person does: the change event follows.
func (tb *tab) choose(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const s = document.querySelector(`+jsString(sel)+`);
			s.value = `+jsString(value)+`; s.dispatchEvent(new Event("change", {bubbles: true})); return true })()`))
		return err
	})
}

// hover moves the mouse to the middle of the i-th chart slot (negative: from the end)
// and returns the tooltip's text with the slot's data attributes.
func (tb *tab) hover(i int) (tip string, slot map[string]string) {
	tb.t.Helper()
	tb.do(chromedp.ScrollIntoView(chromedp.CSS("[data-chart]")))
	type rect struct {
		X, Y float64
		Data map[string]string
	}
	r := eval[rect](tb, `(() => { const all = document.querySelectorAll(".slot"); const i = `+strconv.Itoa(i)+`;
		const s = all[i < 0 ? all.length + i : i]; const b = s.getBoundingClientRect();
		return {X: b.x + b.width / 2, Y: b.y + b.height / 2, Data: Object.assign({}, s.dataset)} })()`)
	tb.do(chromedp.MouseEvent(chromedp.MouseMoved, r.X, r.Y), chromedp.WaitVisible(chromedp.CSS("[data-tooltip]")))
	return run(tb, chromedp.Text(chromedp.CSS("[data-tooltip]"))), r.Data
}

// download clicks what starts a download and returns the file's name and content.
func (tb *tab) download(click chromedp.Action[chromedp.Void]) (string, []byte) {
	tb.t.Helper()
	begin := chromedp.Events(tb.ctx, browser.DownloadWillBegin)
	progress := chromedp.Events(tb.ctx, browser.DownloadProgress)
	tb.do(click)
	var name string
	for ev, err := range begin {
		if err != nil {
			tb.t.Fatal(err)
		}
		name = ev.SuggestedFilename
		break
	}
	for ev, err := range progress {
		if err != nil {
			tb.t.Fatal(err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCanceled:
			tb.t.Fatalf("download of %s canceled", name)
		case browser.DownloadProgressStateCompleted:
			b, err := os.ReadFile(filepath.Join(tb.downloads, ev.GUID))
			if err != nil {
				tb.t.Fatal(err)
			}
			return name, b
		}
	}
	tb.t.Fatal("no download")
	return "", nil
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}

// TestPortalInBrowser walks the portal in chromium: a member opens the link, reads the
// trends, hovers a bar for its tooltip, reads the tooltip from the keyboard, switches
// graph and table, filters by app and range, opens the invoices, downloads a PDF,
// exports the CSV, pays an open invoice; an enterprise account sees no agent count and
// no invoices; a developer sees no Pay now; the page fits a phone.
func TestPortalInBrowser(t *testing.T) {
	chromiumPath(t) // skip before loading anything when there is no browser
	env := storetest.Open(t, sqlstore.SQLite)
	s := newSite(t, env, siteOptions{usageDays: 90, accounts: map[string]bool{"northwind": true, "globex": true}})
	tb := newTab(t)
	step := func(name string, fn func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			tb.t = t
			defer func() {
				if t.Failed() {
					if png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100)); err == nil {
						p := filepath.Join(tb.shots, "failed-"+strings.ReplaceAll(name, " ", "-")+".png")
						os.WriteFile(p, png, 0o644)
						t.Logf("failed at %s; screenshot %s", tb.location(), p)
					}
				}
			}()
			fn(t)
		})
	}

	step("open a portal session", func(t *testing.T) {
		tb.load(chromedp.Navigate(s.link("northwind", billow.RoleOwner)))
		if loc := tb.location(); loc != s.base+"/portal/" {
			t.Fatalf("landed on %s", loc)
		}
		if got := tb.text(".plan-name"); got != "Advanced" {
			t.Fatalf("plan %q", got)
		}
		if got := tb.text(".card .badge"); got != "Active" {
			t.Errorf("status %q", got)
		}
		if got := run(tb, chromedp.Title()); got != "Plan & Usage · Acme Cloud Billing" {
			t.Errorf("title %q", got)
		}
		// The link's token is gone from the address bar and the history.
		if strings.Contains(tb.location(), "token") || eval[int](tb, "history.length") > 2 {
			t.Errorf("the token is still in %s", tb.location())
		}
		tb.shot("01-plan-and-usage")
	})

	step("read the trends and a tooltip", func(t *testing.T) {
		if n := tb.count(".slot"); n != 30 {
			t.Fatalf("30 days: %d slots", n)
		}
		tip, data := tb.hover(-2)
		for _, want := range []string{data["date"], "Billing sessions" + data["billing"], "Voice sessions" + data["voice"], "Agents" + data["agents"]} {
			if !strings.Contains(strings.ReplaceAll(tip, "\n", ""), want) {
				t.Errorf("tooltip %q lacks %q", tip, want)
			}
		}
		if data["billing"] == "" || data["billing"] == "0" || data["agents"] == "" {
			t.Errorf("the day before today has no usage: %v", data)
		}
		// The tooltip says what the table says for that day.
		row := eval[[]string](tb, `Array.from(Array.from(document.querySelectorAll("[data-panel=table] tbody tr")).slice(-2)[0].children).map(c => c.textContent)`)
		if len(row) != 4 || row[0] != data["date"] || row[1] != data["billing"] || row[2] != data["voice"] || row[3] != data["agents"] {
			t.Errorf("table row %q, tooltip data %v", row, data)
		}
		tb.shotView("02-trends-tooltip")

		// From the keyboard: the mouse leaves, the chart takes the focus (its latest
		// bucket), one step left.
		tb.do(chromedp.MouseEvent(chromedp.MouseMoved, 2, 2), chromedp.WaitNotVisible(chromedp.CSS("[data-tooltip]")),
			chromedp.Focus(chromedp.CSS("[data-chart]")), chromedp.KeyEvent(kb.ArrowLeft))
		got := tb.text("[data-tooltip] .tt-date")
		prev := eval[string](tb, `(() => { const s = document.querySelectorAll(".slot"); return s[s.length - 2].dataset.date })()`)
		if got != prev {
			t.Errorf("after focus and ←, the tooltip shows %q, want %q", got, prev)
		}
		tb.do(chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(chromedp.CSS("[data-tooltip]")))
	})

	step("switch graph and table", func(t *testing.T) {
		tb.do(chromedp.Click(chromedp.CSS(`[data-view="table"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-panel="table"]`)),
			chromedp.WaitNotVisible(chromedp.CSS(`[data-panel="chart"]`)))
		if !strings.Contains(tb.location(), "view=table") {
			t.Errorf("the table's URL is %s", tb.location())
		}
		if n := tb.count(`[data-panel="table"] tbody tr`); n != 30 {
			t.Errorf("table of 30 days has %d rows", n)
		}
		if got := tb.text(`[data-panel="table"] thead`); !strings.Contains(strings.ToLower(got), "agents") {
			t.Errorf("table head %q", got)
		}
		tb.do(chromedp.ScrollIntoView(chromedp.CSS("#trends")))
		tb.shotView("03-trends-table")
		// The table's URL loads the table without JavaScript's help.
		tb.load(chromedp.Navigate(strings.TrimSuffix(tb.location(), "#trends")))
		if !run(tb, chromedp.Evaluate[bool](`document.querySelector('[data-panel="chart"]').hidden`)) {
			t.Error("the table URL shows the chart")
		}
		tb.do(chromedp.Click(chromedp.CSS(`[data-view="chart"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-panel="chart"]`)))
	})

	step("filter by app and range", func(t *testing.T) {
		tb.load(tb.choose("#f-app", "support-bot"))
		if loc := tb.location(); !strings.Contains(loc, "app=support-bot") {
			t.Fatalf("after choosing an app: %s", loc)
		}
		tb.load(tb.choose("#f-range", "7d"))
		if loc := tb.location(); !strings.Contains(loc, "app=support-bot") || !strings.Contains(loc, "range=7d") || strings.Contains(loc, "from=") {
			t.Fatalf("after choosing 7 days: %s", loc)
		}
		if n := tb.count(".slot"); n != 7 {
			t.Errorf("7 days: %d slots", n)
		}
		tip, _ := tb.hover(-1)
		if strings.Contains(tip, "Agents") {
			t.Errorf("one app's tooltip shows agents: %q", tip)
		}
		if !strings.Contains(tb.text("#trends"), "choose All apps") {
			t.Error("no word on the missing agent count")
		}
		tb.do(chromedp.ScrollIntoView(chromedp.CSS("#trends")))
		tb.shotView("04-trends-one-app-7-days")

		tb.load(tb.choose("#f-range", "24h"))
		if n := tb.count(".slot"); n != 24 {
			t.Errorf("24 hours: %d slots", n)
		}
		tip, data := tb.hover(-3)
		if !strings.Contains(tip, data["date"]) || !regexp.MustCompile(`\d\d:00–\d\d:00`).MatchString(data["date"]) {
			t.Errorf("an hour's tooltip: %q (%v)", tip, data)
		}

		// Custom dates: the fields appear for the custom range only, and Apply loads them.
		if run(tb, chromedp.Evaluate[bool](`!document.querySelector("#f-from").closest("[data-custom]").hidden`)) {
			t.Error("the custom dates show for a preset range")
		}
		tb.load(tb.choose("#f-app", "")) // All apps
		tb.do(tb.choose("#f-range", "custom"), chromedp.WaitVisible(chromedp.CSS("#f-from")))
		to := env.Clock.Now().AddDate(0, 0, -1)
		from := to.AddDate(0, 0, -13)
		tb.do(chromedp.SetValue(chromedp.CSS("#f-from"), from.Format(time.DateOnly)), chromedp.SetValue(chromedp.CSS("#f-to"), to.Format(time.DateOnly)))
		tb.load(chromedp.Click(chromedp.CSS("[data-trends-filters] button[type=submit]")))
		if loc := tb.location(); !strings.Contains(loc, "range=custom") || !strings.Contains(loc, "from="+from.Format(time.DateOnly)) {
			t.Fatalf("custom range: %s", loc)
		}
		if n := tb.count(".slot"); n != 14 {
			t.Errorf("14 custom days: %d slots", n)
		}
		tb.do(chromedp.ScrollIntoView(chromedp.CSS("#trends")))
		tb.shotView("05-trends-custom-range")
	})

	step("invoices, PDF and CSV", func(t *testing.T) {
		tb.load(chromedp.Click(chromedp.CSS(`nav a[href="/portal/invoices"]`)))
		if n := tb.count("table.invoices tbody tr"); n < 6 {
			t.Fatalf("%d invoices listed", n)
		}
		head := tb.text("table.invoices thead")
		for _, col := range []string{"ORDER ID", "BILLING DATE", "COST", "PAYMENT METHOD", "PAYMENT STATUS"} {
			if !strings.Contains(strings.ToUpper(head), col) {
				t.Errorf("no column %s in %q", col, head)
			}
		}
		tb.shot("06-invoices")

		first := eval[string](tb, `document.querySelector("table.invoices tbody th").innerText`)
		name, pdf := tb.download(chromedp.Click(chromedp.CSS("a[data-pdf]")))
		if !strings.HasPrefix(string(pdf), "%PDF-") || name != first+".pdf" {
			t.Errorf("PDF download %q: %.8q", name, pdf)
		}
		name, body := tb.download(chromedp.Click(chromedp.CSS("[data-export]")))
		rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
		if err != nil || name != "invoices-northwind.csv" || len(rows) < 2 || rows[0][0] != "Order ID" || rows[1][5] != first {
			t.Errorf("CSV download %q: %v %v", name, rows, err)
		}
	})

	step("pay an open invoice", func(t *testing.T) {
		open := s.openInvoice("northwind")
		tb.load(chromedp.Click(chromedp.CSS(`form[action="/portal/invoices/` + open.ID + `/pay"] button`)))
		if got := tb.text(".alert"); !strings.Contains(got, "the invoice is paid") {
			t.Fatalf("after Pay now: %q", got)
		}
		if got := tb.text("tr#" + open.ID + " .badge"); got != "Paid" {
			t.Errorf("the paid invoice shows %q", got)
		}
		if inv := s.invoice(open.ID); inv.Status != billow.InvoicePaid {
			t.Errorf("invoice %s", inv.Status)
		}
		tb.shot("07-invoice-paid")
	})

	step("enterprise account", func(t *testing.T) {
		tb.load(chromedp.Navigate(s.link("globex", billow.RoleOwner)))
		if got := tb.text(".plan-name"); got != "Enterprise" {
			t.Fatalf("plan %q", got)
		}
		tip, data := tb.hover(-2)
		if strings.Contains(tip, "Agents") || data["agents"] != "" || tb.count(`[data-panel="table"] thead th`) != 3 {
			t.Errorf("an enterprise account sees the agent count: %q %v", tip, data)
		}
		tb.shot("08-enterprise-plan")
		tb.load(chromedp.Click(chromedp.CSS(`nav a[href="/portal/invoices"]`)))
		if got := tb.text("main"); !strings.Contains(got, "Your invoices come from Acme Cloud") || tb.count("table") != 0 {
			t.Errorf("enterprise invoices page: %q", got)
		}
		tb.shot("09-enterprise-invoices")
	})

	step("a developer reads", func(t *testing.T) {
		tb.load(chromedp.Navigate(s.link("acme-bots", billow.RoleDeveloper)))
		tb.load(chromedp.Click(chromedp.CSS(`nav a[href="/portal/invoices"]`)))
		if n := tb.count(`form[action$="/pay"]`); n != 0 {
			t.Errorf("a developer is offered %d Pay now buttons", n)
		}
		if !strings.Contains(tb.text(".callout"), "Only an owner or a billing member") {
			t.Error("no word on who can pay")
		}
		tb.shot("10-developer-invoices")
	})

	step("on a phone", func(t *testing.T) {
		tb.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
		tb.load(chromedp.Navigate(s.link("northwind", billow.RoleBilling)))
		if w := eval[int](tb, "document.documentElement.scrollWidth"); w > 390 {
			t.Errorf("the page is %dpx wide on a 390px screen", w)
		}
		tb.shot("11-phone")
		tb.do(chromedp.ScrollIntoView(chromedp.CSS("#trends")))
		tb.shotView("12-phone-trends")
	})
}
