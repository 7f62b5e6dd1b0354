// Package audit runs Lighthouse and axe-core, from npm, against the chat's
// pages in Debian's Chromium: the lobby, a room and the embed must score
// 100 in Lighthouse's accessibility and best practices, and axe-core must
// find no violation (phone and desktop, light and dark).
//
// The tools live in $AUDIT_TOOLS (default: .tools/audit/node_modules at
// the repository's root, which .ci/run fills with `npm install --prefix
// .tools/audit`). Without them, or without Chromium, the tests skip,
// unless CI=true: then they fail. Lighthouse takes a while: -short skips it.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/sessionchat/sessionchat/handlers"
	"github.com/sessionchat/sessionchat/handlers/handlerstest"
)

// chromium is Debian's, as .ci/run installs it.
const chromium = "/usr/bin/chromium"

// chromeFlags are the ones that work on CI machines (see tests/e2e): no
// sandbox (root in a container), no GPU, no background traffic.
var chromeFlags = []string{"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync"}

func ci() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

// need skips the test for a missing tool, or fails it when CI=true.
func need(t *testing.T, what, path string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	msg := fmt.Sprintf("%s not found at %s (npm install --prefix .tools/audit lighthouse@12 axe-core@4; apt-get install chromium)", what, path)
	if ci() {
		t.Fatalf("%s, and CI=true requires the audit to run", msg)
	}
	t.Skip(msg)
}

// tools is the node_modules directory that holds lighthouse and axe-core.
func tools(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("AUDIT_TOOLS"); d != "" {
		return d
	}
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return filepath.Join("..", "..", ".tools", "audit", "node_modules")
	}
	return filepath.Join(strings.TrimSpace(string(out)), ".tools", "audit", "node_modules")
}

// serve starts the chat with a room that has a conversation: grouped
// messages, a link, a long text.
func serve(t *testing.T) string {
	t.Helper()
	a := handlerstest.New(t, handlerstest.Config{Handlers: handlers.Options{}})
	for _, m := range [][2]string{
		{"alice", "hello, everyone"},
		{"bob", "hi alice! the notes are at https://example.org/notes."},
		{"bob", "and the slides follow"},
		{"carol", "こんにちは 👋"},
	} {
		if _, err := a.Service.Post(t.Context(), "audit", m[0], m[1]); err != nil {
			t.Fatal(err)
		}
	}
	return a.URL
}

var pages = []struct{ name, path string }{
	{"lobby", "/"},
	{"room", "/rooms/audit?name=alice"},
	{"embed", "/embed/audit?name=alice"},
}

// TestLighthouse: accessibility and best practices score 100 on every page.
func TestLighthouse(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: Lighthouse takes tens of seconds a page")
	}
	lh := filepath.Join(tools(t), ".bin", "lighthouse")
	need(t, "lighthouse", lh)
	need(t, "chromium", chromium)
	base := serve(t)
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, lh, base+p.path,
				"--output=json", "--output-path=stdout", "--quiet",
				"--only-categories=accessibility,best-practices",
				// No throttling: the scores, not the speed, are checked. A
				// room's event stream never goes quiet: load ends at 6s.
				"--throttling-method=provided", "--max-wait-for-load=6000",
				"--chrome-flags="+strings.Join(chromeFlags, " "))
			cmd.Env = append(os.Environ(), "CHROME_PATH="+chromium)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("lighthouse: %v\n%s", err, stderr.String())
			}
			var report struct {
				Categories map[string]struct {
					Score     *float64 `json:"score"`
					AuditRefs []struct {
						ID string `json:"id"`
					} `json:"auditRefs"`
				} `json:"categories"`
				Audits map[string]struct {
					Title   string          `json:"title"`
					Score   *float64        `json:"score"`
					Details json.RawMessage `json:"details"`
				} `json:"audits"`
			}
			if err := json.Unmarshal(out, &report); err != nil {
				t.Fatalf("lighthouse's report: %v", err)
			}
			for _, cat := range []string{"accessibility", "best-practices"} {
				c, ok := report.Categories[cat]
				if !ok || c.Score == nil {
					t.Errorf("%s: no %s score", p.name, cat)
					continue
				}
				t.Logf("%s: %s %.0f", p.name, cat, *c.Score*100)
				if *c.Score == 1 {
					continue
				}
				var failed []string
				for _, ref := range c.AuditRefs {
					if a := report.Audits[ref.ID]; a.Score != nil && *a.Score < 1 {
						failed = append(failed, fmt.Sprintf("%s (%s): %.1000s", ref.ID, a.Title, a.Details))
					}
				}
				t.Errorf("%s: %s %.0f, want 100; failed: %s", p.name, cat, *c.Score*100, strings.Join(failed, "; "))
			}
		})
	}
}

// TestAxe: axe-core finds no violation on any page, phone and desktop,
// light and dark, with the page's script run (the state people see).
func TestAxe(t *testing.T) {
	src := filepath.Join(tools(t), "axe-core", "axe.min.js")
	need(t, "axe-core", src)
	need(t, "chromium", chromium)
	axe, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true), chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}

	for _, p := range pages {
		for _, s := range []struct {
			name          string
			width, height int64
			mobile        bool
			scheme        string
		}{{"phone-dark", 390, 844, true, "dark"}, {"desktop-light", 1280, 800, false, "light"}} {
			t.Run(p.name+"/"+s.name, func(t *testing.T) {
				ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
				defer cancel()
				ctx, cancelTimeout := context.WithTimeout(ctx, 30*time.Second)
				defer cancelTimeout()
				run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
					t.Helper()
					if err := chromedp.Do(ctx, actions...); err != nil {
						t.Fatalf("%s: %v", what, err)
					}
				}
				run("set the screen", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
					if _, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
						Width: s.width, Height: s.height, DeviceScaleFactor: 1, Mobile: s.mobile}); err != nil {
						return err
					}
					_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
						Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: s.scheme}}})
					return err
				}))
				run("open "+p.path, chromedp.Navigate(base+p.path))
				if p.name != "lobby" {
					if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](`document.getElementById("status").dataset.state === "live"`,
						chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second))); err != nil {
						t.Fatalf("waiting for the stream: %v", err)
					}
				}
				// Injected by DevTools: the page's Content-Security-Policy
				// does not apply.
				if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](string(axe)+";true")); err != nil {
					t.Fatalf("injecting axe-core: %v", err)
				}
				violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`axe.run(document, {resultTypes: ["violations"]}).then(r =>
					r.violations.map(v => v.id + " (" + v.impact + "): " + v.help + " — " + v.nodes.map(n => n.target.join(" ")).join(", ")))`, chromedp.EvalAwaitPromise))
				if err != nil {
					t.Fatalf("running axe-core: %v", err)
				}
				sort.Strings(violations)
				for _, v := range violations {
					t.Errorf("%s %s: %s", p.name, s.name, v)
				}
			})
		}
	}
}
