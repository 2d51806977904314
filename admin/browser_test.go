package admin_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// The browser test drives Debian's chromium (headless) through the console as an operator
// would, against a real listener and a SQLite store holding the demo's accounts and
// billing history. Each step saves a screenshot in $BILLOW_SCREENSHOTS, or in the test's
// temporary directory. The helpers are the portal's (portal/browser_test.go), cut down.

// browserTimeout bounds the whole walk, chromium's start included.
const browserTimeout = 4 * time.Minute

// stepTimeout bounds one step, so that a step that waits for what never comes fails
// alone instead of using up the whole walk's time.
const stepTimeout = 30 * time.Second

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
	t.Skip("chromium is not installed: the console's browser test needs it (apt-get install chromium, or BILLOW_CHROMIUM=path)")
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

// tab is one chromium tab on the console.
type tab struct {
	t     *testing.T
	ctx   context.Context
	shots string
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
	// The first action starts the browser, which lives as long as the context it ran with.
	if err := chromedp.Do(cctx, chromedp.Func(func(context.Context, *chromedp.Target) error { return nil })); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	tb := &tab{t: t, ctx: cctx, shots: screenshotDir(t)}
	t.Logf("screenshots in %s", tb.shots)
	return tb
}

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

// eval runs JavaScript in the page (the test's, not the console's: it has none) and
// returns its value.
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

func (tb *tab) location() string { return run(tb, chromedp.Location()) }

func (tb *tab) text(sel string) string { return run(tb, chromedp.Text(chromedp.CSS(sel))) }

func (tb *tab) count(sel string) int {
	return eval[int](tb, `document.querySelectorAll(`+jsString(sel)+`).length`)
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}

// TestAdminInBrowser walks the console in chromium: the sign-in refuses a wrong password,
// takes the password and a TOTP code, lands on the accounts; a search finds an account;
// its page shows its billing, and its wire transfer is marked received; the other pages
// show; the account page fits a phone.
func TestAdminInBrowser(t *testing.T) {
	chromiumPath(t) // skip before loading anything when there is no browser
	env := storetest.Open(t, sqlstore.SQLite)
	s := newSite(t, env, siteOptions{mail: caughtMail})
	secret := s.operator("ops@example.com")
	tb := newTab(t)
	step := func(name string, fn func(t *testing.T)) {
		if t.Failed() {
			return // each step walks on from where the last one left the browser
		}
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
	signIn := func(password string) {
		// The form keeps the email after a refusal: type it into an empty field.
		eval[bool](tb, `(() => { document.querySelector("#email").value = ""; return true })()`)
		tb.do(chromedp.SendKeys(chromedp.CSS("#email"), "ops@example.com"), chromedp.SendKeys(chromedp.CSS("#password"), password))
		tb.load(chromedp.Click(chromedp.CSS("main button[type=submit]")))
	}

	step("sign in with password and code", func(t *testing.T) {
		tb.load(chromedp.Navigate(s.base + "/admin/accounts"))
		if loc := tb.location(); !strings.HasPrefix(loc, s.base+"/admin/login?next=") {
			t.Fatalf("not sent to sign in: %s", loc)
		}
		tb.shot("01-sign-in")
		signIn("not the password")
		if got := tb.text(".alert"); !strings.Contains(got, "not right") {
			t.Fatalf("after a wrong password: %q", got)
		}
		tb.shot("02-wrong-password")
		signIn(testPassword)
		if loc := tb.location(); !strings.HasPrefix(loc, s.base+"/admin/login/code") {
			t.Fatalf("after the password: %s", loc)
		}
		if eval[string](tb, `document.activeElement.id`) != "code" {
			t.Error("the code field does not have the focus")
		}
		tb.shot("03-code")
		tb.do(chromedp.SendKeys(chromedp.CSS("#code"), s.code(secret)))
		tb.load(chromedp.Click(chromedp.CSS("main button[type=submit]")))
		if loc := tb.location(); loc != s.base+"/admin/accounts" {
			t.Fatalf("after the code: %s", loc)
		}
		if n := tb.count("table[data-accounts] tbody tr"); n < 4 {
			t.Errorf("%d accounts listed", n)
		}
		tb.shot("04-accounts")
	})

	step("search and open an account", func(t *testing.T) {
		tb.do(chromedp.SendKeys(chromedp.CSS("#q"), "north"))
		tb.load(chromedp.Click(chromedp.CSS("form.search button[type=submit]")))
		if n := tb.count("table[data-accounts] tbody tr"); n != 1 {
			t.Fatalf("search north: %d rows", n)
		}
		tb.load(chromedp.Click(chromedp.CSS("table[data-accounts] tbody a")))
		if got := tb.text("main h1"); got != "Northwind Traders" {
			t.Fatalf("account page %q", got)
		}
		if n := tb.count("table[data-invoices] a[data-pdf]"); n < 3 {
			t.Errorf("%d invoice PDFs", n)
		}
		tb.shot("05-account")
	})

	step("mark the wire transfer received", func(t *testing.T) {
		btn := `table[data-orders] form[action$="/clear"] button`
		if n := tb.count(btn); n != 1 {
			t.Fatalf("%d Mark received buttons", n)
		}
		id := eval[string](tb, `document.querySelector('table[data-orders] form[action$="/clear"]').closest("tr").id`)
		tb.load(chromedp.Click(chromedp.CSS(btn)))
		if got := tb.text(".alert"); !strings.Contains(got, id) || !strings.Contains(got, "marked received") {
			t.Fatalf("after Mark received: %q", got)
		}
		if !strings.Contains(tb.location(), "/admin/accounts/acct_") {
			t.Errorf("not back on the account: %s", tb.location())
		}
		if got := tb.text("tr#" + id + " .badge"); got != "Completed" {
			t.Errorf("the order shows %q", got)
		}
		if o, _, err := env.DB.Order(context.Background(), id); err != nil || o.Status != billow.OrderCompleted {
			t.Errorf("order %s: %v", o.Status, err)
		}
		tb.shot("06-wire-received")
	})

	step("the other pages", func(t *testing.T) {
		for _, p := range []struct{ nav, shot, sel string }{
			{"/admin/wire-transfers", "07-wire-transfers", "main h1"},
			{"/admin/failed-payments", "08-failed-payments", "table[data-failed]"},
			{"/admin/catalogs", "09-catalog", "table[data-plans]"},
			{"/admin/emails", "10-email-log", "main h1"},
			{"/admin/mail", "11-mail-catcher", "table[data-mail]"},
		} {
			tb.load(chromedp.Click(chromedp.CSS(`nav a[href="` + p.nav + `"]`)))
			if tb.count(p.sel) == 0 {
				t.Errorf("%s lacks %s", p.nav, p.sel)
			}
			tb.shot(p.shot)
		}
		tb.load(chromedp.Click(chromedp.CSS("table[data-mail] tbody a")))
		tb.do(chromedp.WaitVisible(chromedp.CSS("iframe.mail-frame")))
		tb.shot("12-mail-message")
	})

	step("on a phone", func(t *testing.T) {
		tb.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
		tb.load(chromedp.Navigate(s.base + "/admin/accounts/northwind"))
		if w := eval[int](tb, "document.documentElement.scrollWidth"); w > 390 {
			// Name the widest elements that stick out, for whoever fixes the CSS.
			wide := eval[[]string](tb, `Array.from(document.querySelectorAll("body *")).filter(e => e.getBoundingClientRect().right > 392)
				.filter(e => e.parentElement.getBoundingClientRect().right <= 392).slice(0, 8).map(e => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right))`)
			t.Errorf("the page is %dpx wide on a 390px screen: %q", w, wide)
		}
		tb.shot("13-phone-account")
	})
}
