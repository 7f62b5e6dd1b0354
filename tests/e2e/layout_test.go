package e2e

import (
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/google/go-cmp/cmp"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/handlers"
)

// serveHost serves, on l, a page of another site that frames src.
func serveHost(t *testing.T, l net.Listener, src string) *httptest.Server {
	t.Helper()
	const hostPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Game 42 · a site that embeds the chat</title>
<style>
body { margin: 0; padding: 24px; display: flex; gap: 24px; font: 16px/1.4 system-ui, sans-serif; background: #1e1b4b; color: #e0e7ff; }
.board { flex: 1; min-height: 480px; border-radius: 14px; display: grid; place-items: center; background: repeating-conic-gradient(#312e81 0 25%%, #3730a3 0 50%%) 0 0 / 80px 80px; }
.board p { background: #1e1b4b; padding: .5rem 1rem; border-radius: 8px; }
iframe { flex: none; border: 0; border-radius: 14px; background: #fff; }
</style></head>
<body><main class="board"><p>Game 42 — the host page, on another origin</p></main>
<iframe src="%s" title="Game chat" width="360" height="480"></iframe></body></html>`
	host := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, hostPage, html.EscapeString(src))
	})}}
	host.Start()
	t.Cleanup(host.Close)
	return host
}

// frame returns the page's iframe, once the page and the frame have loaded.
func (tb *tab) frame() *chromedp.Node {
	tb.t.Helper()
	tb.waitFor("the page and its frame to load", `document.readyState === "complete"`)
	nodes, err := chromedp.Run(tb.ctx, chromedp.Nodes(chromedp.CSS("iframe")))
	if err != nil {
		tb.t.Fatalf("finding the iframe: %v", err)
	}
	return nodes[0]
}

// waitInFrame waits until the JavaScript expression is truthy in frame.
func (tb *tab) waitInFrame(frame *chromedp.Node, what, expr string) {
	tb.t.Helper()
	_, err := chromedp.Run(tb.ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInFrame(frame),
		chromedp.WithPollingInterval(pollInterval), chromedp.WithPollingTimeout(pollWait)))
	if err != nil {
		tb.t.Fatalf("waiting in the frame for %s (%s): %v", what, expr, err)
	}
}

// The embed works inside an iframe of an allowed origin: it loads, sends
// and receives. Framed by any other origin, the browser refuses to show it.
func TestEmbed(t *testing.T) {
	requireBrowser(t)
	hostListener := newListener(t)
	hostOrigin := "http://" + hostListener.Addr().String() // another port: another origin
	a := newApp(t, handlers.Options{EmbedOrigins: []string{hostOrigin}})
	a.post(t, "game-42", "Zoë", "Good luck, everyone!")

	t.Run("allowed origin", func(t *testing.T) {
		host := serveHost(t, hostListener, a.URL+"/embed/game-42?name=guest")
		tb := newTab(t)
		tb.viewport(1000, 528, 1, false)
		tb.open(host.URL)
		frame := tb.frame()
		tb.waitInFrame(frame, "the embed to be live", `document.getElementById("status")?.dataset.state === "live"`)
		tb.waitInFrame(frame, "the history", `document.querySelector("#messages .text")?.textContent === "Good luck, everyone!"`)

		tb.do("send from the embed", chromedp.SendKeys(chromedp.CSS("#text"), "gg, well played", chromedp.FromNode(frame)), pressEnter)
		tb.waitInFrame(frame, "the sent message", `document.querySelector("#messages li.my-message .text")?.textContent === "gg, well played"`)
		reply := a.post(t, "game-42", "Zoë", "Rematch?")
		tb.waitInFrame(frame, "the reply", fmt.Sprintf(`[...document.querySelectorAll("#messages .text")].some(p => p.textContent === %s)`, js(reply.Text)))
		stored, _ := a.svc.History(t.Context(), "game-42")
		if len(stored) != 3 || stored[1].Username != "guest" || stored[1].Text != "gg, well played" {
			t.Errorf("stored %+v, want the embed's message from guest in the middle", stored)
		}
		tb.screenshot("embed")
	})

	t.Run("other origin", func(t *testing.T) {
		refusing := newApp(t, handlers.Options{}) // allows no other origin
		src := refusing.URL + "/embed/game-42?name=guest"
		host := serveHost(t, newListener(t), src)
		tb := newTab(t)
		tb.open(host.URL)
		tb.frame()
		if !refusing.served("/embed/game-42") {
			t.Fatalf("the server never got the embed request: nothing to refuse")
		}
		tree := call(tb, page.GetFrameTree, cdp.Empty{})
		if len(tree.FrameTree.ChildFrames) != 1 {
			t.Fatalf("host page has %d frames, want 1", len(tree.FrameTree.ChildFrames))
		}
		f := tree.FrameTree.ChildFrames[0].Frame
		if !strings.HasPrefix(f.URL, "chrome-error:") || f.UnreachableURL != src {
			t.Errorf("the frame shows %q (unreachable %q); want the browser's error page for %s", f.URL, f.UnreachableURL, src)
		}
	})
}

// offendersJS lists the elements that reach past the right or left edge
// of the viewport, and whether the page scrolls sideways.
const offendersJS = `(() => {
	const out = [...document.querySelectorAll("body *")].filter((el) => {
		const r = el.getBoundingClientRect();
		return r.width > 0 && (r.right > innerWidth + 0.5 || r.left < -0.5);
	}).map((el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className ? "." + el.className : "") +
		" right=" + Math.round(el.getBoundingClientRect().right));
	if (document.documentElement.scrollWidth > innerWidth) out.push("page scrollWidth=" + document.documentElement.scrollWidth);
	return out;
})()`

// reachableJS reports the element of a selector that is not wholly in the
// viewport, or is covered at its centre, or "" when all are reachable.
const reachableJS = `((sels) => {
	for (const sel of sels) {
		const el = document.querySelector(sel), r = el.getBoundingClientRect();
		if (r.top < 0 || r.bottom > innerHeight || r.left < 0 || r.right > innerWidth) return sel + " is outside the viewport";
		const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
		if (!el.contains(hit)) return sel + " is covered by " + (hit ? hit.tagName : "nothing");
	}
	return "";
})`

// On a phone-sized screen nothing reaches past the edges, however long a
// word, a name or a room name, and the message box stays reachable from
// anywhere in a long conversation.
func TestPhoneLayout(t *testing.T) {
	a := newApp(t, handlers.Options{})
	conversation(t, a, "game-night")
	a.post(t, "game-night", "bob", "Supercalifragilisticexpialidocious"+strings.Repeat("!", 20))
	long := strings.Repeat("room-name-", 6) + "end" // 63 characters
	for i := range 20 {
		a.post(t, chat.Room(long), "Maximilian-Alexander Fitzgerald", fmt.Sprintf("%d: %s", i+1, strings.Repeat("x", 120)))
	}

	tb := newTab(t)
	tb.viewport(390, 844, 2, true)
	for _, room := range []string{long, "game-night"} {
		tb.open(a.URL + "/rooms/" + room + "?name=alice")
		tb.waitLive()
		if got := eval[[]string](tb, offendersJS); len(got) != 0 {
			t.Errorf("room %s at 390×844: past the edges: %q", room, got)
		}
		for _, end := range []string{"top", "bottom"} {
			y := "0"
			if end == "bottom" {
				y = "document.documentElement.scrollHeight"
			}
			eval[bool](tb, "scrollTo(0, "+y+"), true")
			if got := eval[string](tb, reachableJS+`(["#text", "#send", "#name"])`); got != "" {
				t.Errorf("room %s scrolled to the %s: %s", room, end, got)
			}
		}
	}
	// Scrolled to the end, as a phone user would be, then tapping to write.
	tb.do("tap and type", chromedp.Tap(chromedp.CSS("#text")), chromedp.SendKeys(chromedp.CSS("#text"), "on my way, 5 min"))
	tb.do("tap send", chromedp.Tap(chromedp.CSS("#send")))
	tb.waitMessage("on my way, 5 min")
	if got := eval[string](tb, `document.activeElement.id`); got != "text" {
		t.Errorf("after sending, focus is on %q, want the message box", got)
	}
	tb.waitFor("the new message in view", reachableJS+`(["#messages li:last-child"]) === ""`)
	tb.waitFor("Send to be enabled again", `!document.getElementById("send").disabled`)
	tb.screenshot("phone")
}

// focusJS describes the focused element and whether its focus ring shows.
const focusJS = `(() => {
	const el = document.activeElement, cs = getComputedStyle(el);
	return {id: el.id || el.tagName.toLowerCase(), ring: el.matches(":focus-visible") && cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) >= 2};
})()`

type focused struct {
	ID   string `json:"id"`
	Ring bool   `json:"ring"`
}

// The room works from the keyboard alone: Tab reaches the form, every stop
// shows a focus ring, Enter sends and the focus stays in the message box;
// the message list is a polite live region.
func TestKeyboardOnly(t *testing.T) {
	a := newApp(t, handlers.Options{})
	a.post(t, "keys", "Zoë", "hello, keyboard user")
	tb := newTab(t)
	tb.open(a.URL + "/rooms/keys")
	tb.waitLive()

	// On entry without a name, the name box has the focus.
	if f := eval[focused](tb, focusJS); f.ID != "name" {
		t.Errorf("on entry without a name the focus is on %q, want the name box", f.ID)
	}
	tb.do("type a name", chromedp.KeyEvent("kai"))
	// Back to the top with Shift+Tab, then Tab down to the message box.
	for range 10 {
		tb.do("press Shift+Tab", chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift)))
		if eval[focused](tb, focusJS).ID == "a" {
			break
		}
	}
	stops := []string{"a"}
	for len(stops) < 10 {
		tb.do("press Tab", chromedp.KeyEvent(kb.Tab))
		f := eval[focused](tb, focusJS)
		stops = append(stops, f.ID)
		if !f.Ring {
			t.Errorf("no visible focus ring on %s", f.ID)
		}
		if f.ID == "text" {
			break
		}
	}
	// The transcript is one stop (a summary) until opened.
	if want := []string{"a", "back", "share", "summary", "name", "text"}; !cmp.Equal(want, stops) {
		t.Errorf("Tab stops %q, want %q", stops, want)
	}

	tb.do("type and press Enter", chromedp.KeyEvent("typed, not clicked"), pressEnter)
	tb.waitMessage("typed, not clicked")
	tb.do("type, Tab to Send, press Enter", chromedp.KeyEvent("sent with the button"), chromedp.KeyEvent(kb.Tab))
	if f := eval[focused](tb, focusJS); f.ID != "send" || !f.Ring {
		t.Errorf("after the message box, focus is on %+v, want the Send button with a ring", f)
	}
	tb.do("press Enter on Send", pressEnter)
	tb.waitMessage("sent with the button")
	tb.waitFor("focus back in the message box", `document.activeElement.id === "text" && document.activeElement.value === ""`)
	if got := tb.messages(); !got[1].Mine || got[1].User != "kai" {
		t.Errorf("the keyboard user's message shows as %+v", got[1])
	}

	nodes, err := chromedp.Run(tb.ctx, chromedp.Nodes(chromedp.CSS("#messages")))
	if err != nil {
		t.Fatal(err)
	}
	ax := call(tb, accessibility.GetPartialAXTree, accessibility.GetPartialAXTreeParams{NodeID: nodes[0].NodeID, FetchRelatives: new(false)})
	live := ""
	for _, n := range ax.Nodes {
		for _, p := range n.Properties {
			if p.Name == accessibility.PropertyNameLive {
				live = strings.Trim(string(p.Value.Value), `"`)
			}
		}
	}
	if live != "polite" {
		t.Errorf("the message list's accessibility node has live=%q, want polite", live)
	}
}

// While a post is in flight Send is disabled and a second Enter sends
// nothing; what the sender typed meanwhile stays. Errors are said in words
// next to the form, the draft is kept, and the focus stays.
func TestSendingFeedback(t *testing.T) {
	a := newApp(t, handlers.Options{})
	tb := newTab(t)
	tb.open(a.URL + "/rooms/fb?name=gus")
	tb.waitLive()
	formError := func(want string) {
		t.Helper()
		tb.waitFor("the error "+want, `document.getElementById("form-error").textContent === `+js(want))
		if eval[string](tb, `document.activeElement.id`) != "text" {
			t.Errorf("after the error %q, focus left the message box", want)
		}
	}

	release := a.holdPosts()
	defer release()
	tb.send("first")
	tb.waitFor("Send to be disabled", `document.getElementById("send").disabled`)
	tb.do("type on and press Enter again", chromedp.KeyEvent(" and more"), pressEnter)
	release()
	tb.waitMessage("first")
	tb.waitFor("Send to be enabled", `!document.getElementById("send").disabled`)
	if got := eval[string](tb, `document.getElementById("text").value`); got != " and more" {
		t.Errorf("after sending, the message box holds %q, want what was typed meanwhile", got)
	}
	if stored, _ := a.svc.History(t.Context(), "fb"); len(stored) != 1 {
		t.Errorf("stored %d messages, want 1: Enter during a post sent again", len(stored))
	}

	tb.do("clear", chromedp.SetValue(chromedp.CSS("#text"), strings.Repeat("x", 2001)), chromedp.Focus(chromedp.CSS("#text")), pressEnter)
	formError("Your message was not sent: message is longer than 2000 characters.")

	a.store.Down.Store(true)
	tb.do("write", chromedp.SetValue(chromedp.CSS("#text"), "while the store is down"), pressEnter)
	formError("The chat is unavailable right now — your message was not sent. Try again.")
	if got := eval[string](tb, `document.getElementById("text").value`); got != "while the store is down" {
		t.Errorf("after a failed post the message box holds %q, want the draft", got)
	}
	tb.screenshot("form-error")
	a.store.Down.Store(false)
	tb.do("retry", pressEnter)
	tb.waitMessage("while the store is down")
	formError("")
	if eval[bool](tb, `document.getElementById("form-error").offsetHeight > 0`) {
		t.Errorf("the empty error still takes room")
	}

	t.Run("rate limited", func(t *testing.T) {
		a := newApp(t, handlers.Options{PostRate: 0.5, PostBurst: 1})
		tb := newTab(t)
		tb.open(a.URL + "/rooms/fast?name=flash")
		tb.waitLive()
		tb.send("one")
		tb.waitMessage("one")
		tb.send("two")
		tb.waitFor("the rate-limit error", `document.getElementById("form-error").textContent !== ""`)
		got := eval[string](tb, `document.getElementById("form-error").textContent`)
		if !regexp.MustCompile(`^You are sending messages too fast — try again in [0-9]+ seconds?\.$`).MatchString(got) {
			t.Errorf("rate-limit error %q", got)
		}
	})
}
