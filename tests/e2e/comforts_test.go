package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/handlers"
)

// The comforts of a chat (issue 13): each checked on a phone and a desktop,
// in light and dark, with JavaScript and without.

// screen is one device and colour scheme the comforts are checked on.
type screen struct {
	name          string
	width, height int64
	scale         float64
	mobile        bool
	scheme        string
}

var screens = []screen{
	{"phone-dark", 390, 844, 2, true, "dark"},
	{"desktop-light", 1280, 800, 1, false, "light"},
}

func (tb *tab) on(s screen) {
	tb.t.Helper()
	tb.viewport(s.width, s.height, s.scale, s.mobile)
	tb.colorScheme(s.scheme)
}

// linkJS describes the links in the message whose text starts with prefix.
func linkJS(prefix string) string {
	return `[...document.querySelectorAll("#messages li.message .text")].filter(p => p.textContent.startsWith(` + js(prefix) + `))
		.flatMap(p => [...p.querySelectorAll("a")].map(a => ({href: a.getAttribute("href"), text: a.textContent, rel: a.rel, target: a.target})))`
}

type link struct {
	Href   string `json:"href"`
	Text   string `json:"text"`
	Rel    string `json:"rel"`
	Target string `json:"target"`
}

// linkText is a message with a link, a link in brackets, and things that
// must not become links.
const linkText = "see https://example.org/a?b=1. (and http://example.com/x) but not javascript:alert(1) or ftp://example.net"

var wantLinks = []link{
	{"https://example.org/a?b=1", "https://example.org/a?b=1", "nofollow noopener ugc", "_blank"},
	{"http://example.com/x", "http://example.com/x", "nofollow noopener ugc", "_blank"},
}

// groupedJS lists, for each message, whether it continues a group and
// whether its header (name and time) shows.
const groupedJS = `[...document.querySelectorAll("#messages li.message")].map(li =>
	(li.classList.contains("cont") ? "cont" : "head") + ":" + (li.querySelector(".username").getBoundingClientRect().width > 1 ? "shown" : "hidden"))`

// checkShared checks what every room page shows the same with and
// without the script: links, groups, favicon and description, a composer
// that fits, the share link.
func checkShared(t *testing.T, a *app, tb *tab, s screen, room string) {
	t.Helper()
	if got := eval[[]link](tb, linkJS("see ")); fmt.Sprint(got) != fmt.Sprint(wantLinks) {
		t.Errorf("%s: links %+v, want %+v", s.name, got, wantLinks)
	}
	groups := eval[[]string](tb, groupedJS)
	if n := len(groups); n < 3 || groups[n-3] != "head:shown" || groups[n-2] != "cont:hidden" || groups[n-1] != "head:shown" {
		t.Errorf("%s: the last three messages (bob, bob soon after, carol) are %q, want head, cont, head", s.name, groups)
	}
	if got := eval[string](tb, `document.querySelector("meta[name=description]")?.content ?? ""`); len(got) < 50 {
		t.Errorf("%s: meta description %q, want one of at least 50 characters", s.name, got)
	}
	icon := eval[string](tb, `document.querySelector("link[rel=icon]")?.href ?? ""`)
	if resp, err := http.Get(icon); err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("%s: favicon %q: %v %v", s.name, icon, err, resp)
	} else {
		resp.Body.Close()
	}
	if got := eval[string](tb, `document.getElementById("share").getAttribute("href")`); got != "/rooms/"+room {
		t.Errorf("%s: share links to %q, want /rooms/%s", s.name, got, room)
	}
	h := eval[float64](tb, `document.getElementById("post").getBoundingClientRect().height`)
	if s.mobile && h > 0.12*float64(s.height) {
		t.Errorf("%s: the composer is %.0fpx high, %.1f%% of the screen; want at most 12%%", s.name, h, 100*h/float64(s.height))
	}
	t.Logf("%s: composer %.0fpx, %.1f%% of the screen", s.name, h, 100*h/float64(s.height))
	if got := eval[[]string](tb, offendersJS); len(got) != 0 {
		t.Errorf("%s: past the edges: %q", s.name, got)
	}
	if got := eval[[]string](tb, lowContrastJS); len(got) != 0 {
		t.Errorf("%s: low contrast: %q", s.name, got)
	}
}

// fill posts a long conversation, ending with a link, two messages of one
// author close together and one of another.
func fill(t *testing.T, a *app, room chat.Room) {
	t.Helper()
	for i := range 30 {
		a.post(t, room, "dora", fmt.Sprintf("message %d", i))
		a.post(t, room, "eve", fmt.Sprintf("reply %d", i))
	}
	a.post(t, room, "ann", linkText)
	a.post(t, room, "bob", "first of two")
	a.post(t, room, "bob", "second, soon after")
	a.post(t, room, "carol", "someone else")
}

func TestComfortsWithJavaScript(t *testing.T) {
	for _, s := range screens {
		t.Run(s.name, func(t *testing.T) {
			a := newApp(t, handlers.Options{})
			const room = "comfy"
			fill(t, a, room)
			tb := newTab(t)
			tb.on(s)
			call(tb, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Tokyo"})
			// A hidden tab cannot be had in headless Chromium: the page
			// reads visibilityState through this switch.
			tb.addScript(`window.hide = (h) => { Object.defineProperty(document, "visibilityState", {configurable: true, get: () => h ? "hidden" : "visible"}); document.dispatchEvent(new Event("visibilitychange")); };
				navigator.share = (d) => { window.shared = d; return Promise.resolve(); }; navigator.canShare = () => true;`)
			tb.open(a.URL + "/rooms/" + room + "?name=alice")
			tb.waitLive()

			// On entry the message box has the focus, and the newest message is in view.
			if got := eval[string](tb, `document.activeElement.id`); got != "text" {
				t.Errorf("on entry the focus is on %q, want the message box", got)
			}
			tb.waitFor("the newest message in view", reachableJS+`(["#messages li:last-child"]) === ""`)
			checkShared(t, a, tb, s, room)

			// Times: the reader's clock, the zone named on hover.
			if got := eval[string](tb, `document.querySelector("#messages li:last-child time").title`); !strings.HasSuffix(got, "GMT+9") {
				t.Errorf("a message time's title is %q, want it to name the reader's zone (GMT+9)", got)
			}
			if got := tb.text("#expiry time"); !strings.HasSuffix(got, "GMT+9") {
				t.Errorf("the history's end reads %q, want it in the reader's zone, named (GMT+9)", got)
			}

			// The counter counts what the server counts: code points.
			tb.do("type", chromedp.SendKeys(chromedp.CSS("#text"), "héllo 👋"))
			if got := tb.text("#count"); got != fmt.Sprintf("7 / %d", chat.MaxTextChars) {
				t.Errorf("the counter says %q, want 7 / %d", got, chat.MaxTextChars)
			}
			eval[bool](tb, `(document.getElementById("text").value = "x".repeat(2001), document.getElementById("text").dispatchEvent(new Event("input")), true)`)
			if got := tb.text("#count"); got != "2001 / 2000" || !eval[bool](tb, `document.getElementById("count").hasAttribute("data-over")`) {
				t.Errorf("over the limit the counter says %q, want 2001 / 2000 marked as over", got)
			}
			eval[bool](tb, `(document.getElementById("text").value = "", document.getElementById("text").dispatchEvent(new Event("input")), true)`)

			// Scrolled up, a new message gets a cue; the cue takes you down.
			eval[bool](tb, `(scrollTo(0, 0), true)`)
			tb.waitFor("scrolled to the top", `scrollY === 0`)
			a.post(t, room, "carol", "while you were reading")
			tb.waitMessage("while you were reading")
			tb.waitFor("the new-messages cue", visibleJS("new-cue"))
			if got := tb.text("#new-cue"); got != "1 new message ↓" {
				t.Errorf("the cue says %q", got)
			}
			if got := eval[string](tb, reachableJS+`(["#new-cue"])`); got != "" {
				t.Errorf("the cue cannot be tapped: %s", got)
			}
			tb.screenshot("new-messages-" + s.name)
			if s.mobile {
				tb.do("tap the cue", chromedp.Tap(chromedp.CSS("#new-cue")))
			} else {
				tb.do("click the cue", chromedp.Click(chromedp.CSS("#new-cue")))
			}
			tb.waitFor("the newest message in view and the cue gone", reachableJS+`(["#messages li:last-child"]) === "" && !`+visibleJS("new-cue"))

			// Sending brings you down from wherever you were.
			eval[bool](tb, `(scrollTo(0, 0), true)`)
			tb.waitFor("scrolled to the top", `scrollY === 0`)
			tb.send("back at the bottom")
			tb.waitMessage("back at the bottom")
			tb.waitFor("the sent message in view", reachableJS+`(["#messages li:last-child"]) === ""`)
			if got := eval[bool](tb, visibleJS("new-cue")); got {
				t.Errorf("after sending the cue still shows")
			}

			// Live messages: links and groups by the same rules.
			a.post(t, room, "ann", linkText)
			tb.waitFor("the live link", `document.querySelectorAll("#messages li.message:last-child .text a").length === 2`)
			if got := eval[[]link](tb, `[...document.querySelectorAll("#messages li.message:last-child .text a")].map(a => ({href: a.getAttribute("href"), text: a.textContent, rel: a.rel, target: a.target}))`); fmt.Sprint(got) != fmt.Sprint(wantLinks) {
				t.Errorf("live links %+v, want %+v", got, wantLinks)
			}
			if got := tb.text("#messages li.message:last-child .text"); got != linkText {
				t.Errorf("the live message reads %q, want %q", got, linkText)
			}
			a.post(t, room, "ann", "and one more")
			tb.waitMessage("and one more")
			if got := eval[[]string](tb, groupedJS); got[len(got)-1] != "cont:hidden" || got[len(got)-2] != "head:shown" {
				t.Errorf("live: ann's two messages are %q, want head, cont", got[len(got)-2:])
			}

			// Hidden, the tab counts what arrives in its title.
			title := eval[string](tb, `document.title`)
			eval[bool](tb, `(hide(true), true)`)
			a.post(t, room, "carol", "one")
			a.post(t, room, "carol", "two")
			tb.waitMessage("two")
			if got := eval[string](tb, `document.title`); got != "(2) "+title {
				t.Errorf("hidden, the title is %q, want (2) %s", got, title)
			}
			eval[bool](tb, `(hide(false), true)`)
			if got := eval[string](tb, `document.title`); got != title {
				t.Errorf("seen again, the title is %q, want %q", got, title)
			}

			// Share: the room's link, never ?name=.
			tb.click("#share")
			tb.waitFor("the share sheet", `window.shared !== undefined`)
			if got := eval[string](tb, `window.shared.url`); got != a.URL+"/rooms/"+room {
				t.Errorf("shared %q, want %s/rooms/%s", got, a.URL, room)
			}
		})
	}
}

func TestComfortsWithoutJavaScript(t *testing.T) {
	for _, s := range screens {
		t.Run(s.name, func(t *testing.T) {
			a := newApp(t, handlers.Options{})
			const room = "plain"
			fill(t, a, room)
			tb := newTab(t)
			tb.on(s)
			tb.noScript()
			tb.open(a.URL + "/rooms/" + room + "?name=alice")

			if got := eval[string](tb, `document.activeElement.id`); got != "text" {
				t.Errorf("on entry the focus is on %q, want the message box", got)
			}
			checkShared(t, a, tb, s, room)
			if got := tb.text("#messages li:last-child time"); !strings.HasSuffix(got, " UTC") {
				t.Errorf("a message time reads %q, want it labelled UTC", got)
			}
			if eval[bool](tb, visibleJS("count")) || eval[bool](tb, visibleJS("new-cue")) {
				t.Errorf("without the script the counter or the cue shows")
			}

			// A post lands on the message sent, at the bottom of a long room.
			tb.do("type", chromedp.SendKeys(chromedp.CSS("#text"), "sent without a script"))
			tb.submit("send", "#send")
			tb.waitMessage("sent without a script")
			hist, _ := a.svc.History(t.Context(), room)
			last := hist[len(hist)-1]
			if got := eval[string](tb, `location.hash`); got != "#m-"+last.ID.String() {
				t.Errorf("after the post the page is at %q, want #m-%s", got, last.ID)
			}
			if got := eval[string](tb, `(() => { const r = document.getElementById(`+js("m-"+last.ID.String())+`).getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight ? "" : "top=" + r.top + " bottom=" + r.bottom; })()`); got != "" {
				t.Errorf("the message sent is not in view: %s", got)
			}
			tb.screenshot("posted-without-javascript-" + s.name)

			// An error says what was wrong in plain words.
			eval[bool](tb, `(document.getElementById("text").value = "x".repeat(2001), true)`)
			tb.submit("send too much", "#send")
			if got := tb.text("#form-error"); got != "Your message was not sent: message is longer than 2000 characters." {
				t.Errorf("the error reads %q", got)
			}
		})
	}
}

// The embed's composer fits a small frame: at 360×480 it takes at most a
// fifth of it, with the script and without, light and dark, and nothing
// reaches past the edges.
func TestEmbedComposerFits(t *testing.T) {
	a := newApp(t, handlers.Options{})
	fill(t, a, "framed")
	for _, script := range []bool{true, false} {
		for _, scheme := range []string{"light", "dark"} {
			t.Run(fmt.Sprintf("script=%v/%s", script, scheme), func(t *testing.T) {
				tb := newTab(t)
				tb.viewport(360, 480, 1, false)
				tb.colorScheme(scheme)
				if !script {
					tb.noScript()
				}
				tb.open(a.URL + "/embed/framed?name=guest")
				if script {
					tb.waitLive()
				}
				h := eval[float64](tb, `document.getElementById("post").getBoundingClientRect().height`)
				if h > 0.2*480 {
					t.Errorf("the embed's composer is %.0fpx high, %.0f%% of a 480px frame; want at most 20%%", h, 100*h/480)
				}
				t.Logf("embed composer: %.0fpx, %.0f%% of the frame", h, 100*h/480)
				if got := eval[[]string](tb, offendersJS); len(got) != 0 {
					t.Errorf("past the edges: %q", got)
				}
				sels := `["#text", "#send", "#name"]`
				if script { // without it the page opens at its top
					sels = `["#text", "#send", "#name", "#messages li:last-child"]`
				}
				if got := eval[string](tb, reachableJS+`(`+sels+`)`); got != "" {
					t.Errorf("%s", got)
				}
				if got := eval[[]link](tb, linkJS("see ")); fmt.Sprint(got) != fmt.Sprint(wantLinks) {
					t.Errorf("links %+v, want %+v", got, wantLinks)
				}
				if got := eval[[]string](tb, lowContrastJS); len(got) != 0 {
					t.Errorf("low contrast: %q", got)
				}
			})
		}
	}
}
