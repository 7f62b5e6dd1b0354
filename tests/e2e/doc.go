// Package e2e proves the chat pages in a real browser: it serves the whole
// app in-process (memory store, hub, service, handlers) on 127.0.0.1 and
// drives headless Chromium through the DevTools protocol (chromedp).
//
// The tests need Chromium (Debian: apt-get install chromium). Without it
// they skip, unless CI=true, where they fail. SCREENSHOTS_DIR keeps the
// screenshots they take (by default they go to a temporary directory).
//
// It holds only tests; nothing imports it.
package e2e
