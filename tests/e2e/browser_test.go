package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// browserNames are where the tests look for Chromium, in order. .ci/run
// installs Debian's package, /usr/bin/chromium.
var browserNames = []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// errNoBrowser means no Chromium was found: the tests skip, or fail in CI.
var errNoBrowser = errors.New("no Chromium found (looked for " + strings.Join(browserNames, ", ") + ")")

// startTimeout is how long the browser may take to start.
const startTimeout = time.Minute

// browser is the one Chromium process every test of the package shares,
// started by the first test that needs it and stopped by TestMain.
var browser struct {
	once   sync.Once
	ctx    context.Context // a chromedp context whose tab holds the browser open
	cancel func()
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
	}
	os.Exit(code)
}

// startBrowser starts the shared browser once.
func startBrowser() (context.Context, error) {
	browser.once.Do(func() {
		path := ""
		for _, name := range browserNames {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
		if path == "" {
			browser.err = errNoBrowser
			return
		}
		// chromedp gives the browser a fresh temporary --user-data-dir and
		// removes it when the browser stops. The flags are the ones that
		// work on CI machines: no sandbox (root in a container), no GPU, no
		// background traffic to Google.
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.Flag("disable-gpu", true),
			chromedp.Flag("disable-quic", true),
			chromedp.NoFirstRun,
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.WindowSize(1280, 800),
		)
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelCtx := chromedp.NewContext(allocCtx)
		browser.ctx = ctx
		browser.cancel = func() { cancelCtx(); cancelAlloc() }
		// The first Do starts the browser and binds it to ctx, so it has
		// no deadline of its own: give up on a browser that never answers.
		started := make(chan error, 1)
		go func() { started <- chromedp.Do(ctx) }()
		select {
		case err := <-started:
			if err != nil {
				browser.err = fmt.Errorf("starting %s: %w", path, err)
			}
		case <-time.After(startTimeout):
			browser.cancel()
			browser.err = fmt.Errorf("starting %s: no answer within %v", path, startTimeout)
		}
	})
	return browser.ctx, browser.err
}

// ciRequiresBrowser reports whether CI says the browser must be there.
func ciRequiresBrowser() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// requireBrowser returns the shared browser, starting it if need be. With
// no browser it skips the test, or fails it when CI=true.
func requireBrowser(t *testing.T) context.Context {
	t.Helper()
	ctx, err := startBrowser()
	if errors.Is(err, errNoBrowser) {
		if ciRequiresBrowser() {
			t.Fatalf("%v, and CI=true requires the browser tests to run: apt-get install chromium", err)
		}
		t.Skipf("%v: skipping the browser tests (apt-get install chromium to run them; with CI=true they fail instead)", err)
	}
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return ctx
}

// tab is one browser tab of a test.
type tab struct {
	t   *testing.T
	ctx context.Context
}

// tabTimeout bounds everything one tab does, so that a broken page fails
// its test instead of hanging the package.
const tabTimeout = 30 * time.Second

// newTab opens a tab in a browser context of its own: its cookies and
// storage are shared with no other tab. It skips the test when there is
// no browser, unless CI=true.
func newTab(t *testing.T) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(requireBrowser(t), chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("opening a tab: %v", err)
	}
	// A test may have several tabs open at once: each must behave as the
	// one in front, with focus (focus rings, the focused element).
	if _, err := chromedp.Call(ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		cancel()
		t.Fatalf("emulating focus: %v", err)
	}
	tctx, cancelTimeout := context.WithTimeout(ctx, tabTimeout)
	tb := &tab{t: t, ctx: tctx}
	n := tabs.Add(1)
	t.Cleanup(func() {
		cancelTimeout()
		closing, done := context.WithTimeout(ctx, 2*time.Second)
		defer done()
		if dir := os.Getenv("SCREENSHOTS_DIR"); t.Failed() && dir != "" {
			// What the page showed when the test failed, for CI logs.
			name := fmt.Sprintf("failed-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), n)
			if path, err := saveScreenshot(closing, dir, name); err != nil {
				t.Logf("screenshot of the failure: %v", err)
			} else {
				t.Logf("screenshot of the failure: %s", path)
			}
		}
		// Leave the page first: the tab closes at once instead of waiting
		// on the page's event stream.
		_ = chromedp.Do(closing, chromedp.Navigate("about:blank"))
		cancel()
	})
	return tb
}

// tabs numbers the tabs, for the names of failure screenshots.
var tabs atomic.Int64

// do runs actions in the tab and fails the test on error.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
}

// open loads url and waits for the page's load event.
func (tb *tab) open(url string) {
	tb.t.Helper()
	tb.do("open "+url, chromedp.Navigate(url))
}

// eval evaluates a JavaScript expression in the page and decodes its value.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// pollWait is how long waitFor waits for a condition of the page: well
// above what a live update takes on a loaded CI machine.
const pollWait = 10 * time.Second

// pollInterval is how often waitFor checks: a timer, unlike
// requestAnimationFrame, also runs in a tab that is not in front.
const pollInterval = 20 * time.Millisecond

// waitFor waits until the JavaScript expression is truthy in the page.
func (tb *tab) waitFor(what, expr string) {
	tb.t.Helper()
	_, err := chromedp.Run(tb.ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(pollInterval), chromedp.WithPollingTimeout(pollWait)))
	if err != nil {
		tb.t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

// call sends one DevTools protocol command to the tab.
func call[P, R any](tb *tab, cmd cdp.Command[P, R], params P) R {
	tb.t.Helper()
	r, err := chromedp.Call(tb.ctx, cmd, params)
	if err != nil {
		tb.t.Fatalf("%s: %v", cmd.Method, err)
	}
	return r
}

// viewport sets the size of the page's window; scale is the device pixel
// ratio, mobile makes it a phone (meta viewport, touch).
func (tb *tab) viewport(width, height int64, scale float64, mobile bool) {
	tb.t.Helper()
	call(tb, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: width, Height: height, DeviceScaleFactor: scale, Mobile: mobile,
	})
	if mobile {
		call(tb, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: true, MaxTouchPoints: 5})
	}
}

// colorScheme makes the page see prefers-color-scheme: scheme.
func (tb *tab) colorScheme(scheme string) {
	tb.t.Helper()
	call(tb, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	})
}

// screenshot saves what the viewport shows as name.png in the screenshot
// directory: $SCREENSHOTS_DIR, or a temporary one.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	dir := os.Getenv("SCREENSHOTS_DIR")
	if dir == "" {
		dir = tb.t.TempDir()
	}
	path, err := saveScreenshot(tb.ctx, dir, name)
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	tb.t.Logf("screenshot: %s", path)
}

// saveScreenshot writes what the tab's viewport shows to dir/name.png.
func saveScreenshot(ctx context.Context, dir, name string) (string, error) {
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name+".png")
	return path, os.WriteFile(path, png, 0o644)
}

// addScript runs source in every document the tab loads from now on,
// before the page's own scripts. DevTools scripts are not subject to the
// page's Content-Security-Policy.
func (tb *tab) addScript(source string) {
	tb.t.Helper()
	call(tb, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: source})
}
