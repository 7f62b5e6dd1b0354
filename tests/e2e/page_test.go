package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/sessionchat/sessionchat/chat"
)

// What the tests read off a room page, and how.

// shown is a message as the page shows it.
type shown struct {
	ID   string `json:"id"`
	User string `json:"user"`
	Text string `json:"text"`
	Time string `json:"time"`
	Mine bool   `json:"mine"`
}

// shownJS lists the messages of the page's message list.
const shownJS = `[...document.querySelectorAll("#messages li.message")].map(li => ({
	id: li.dataset.id || "",
	user: li.querySelector(".username").textContent,
	text: li.querySelector(".text").textContent,
	time: li.querySelector("time").textContent,
	mine: li.classList.contains("my-message"),
}))`

// recordStreamsJS, added with addScript, keeps the id of every event the
// page's event streams deliver in window.received, duplicates included.
const recordStreamsJS = `(() => {
	const Native = window.EventSource;
	window.received = [];
	window.EventSource = class extends Native {
		constructor(url, init) {
			super(url, init);
			this.addEventListener("message", (e) => window.received.push(e.lastEventId));
		}
	};
})();`

// recordViolationsJS, added with addScript, keeps what the page's
// Content-Security-Policy blocked in window.violations: markup from a
// message that reached the DOM as HTML would show up there.
const recordViolationsJS = `window.violations = [];
document.addEventListener("securitypolicyviolation", (e) => window.violations.push(e.violatedDirective + " " + e.sample));`

// js writes v as a JavaScript literal.
func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// messages returns the messages the page shows, in order.
func (tb *tab) messages() []shown {
	tb.t.Helper()
	return eval[[]shown](tb, shownJS)
}

// plain drops the ids and times of msgs, which tests cannot know.
func plain(msgs []shown) []shown {
	for i := range msgs {
		msgs[i].ID, msgs[i].Time = "", ""
	}
	return msgs
}

// texts returns the texts of the messages the page shows, in order.
func (tb *tab) texts() []string {
	tb.t.Helper()
	var texts []string
	for _, m := range tb.messages() {
		texts = append(texts, m.Text)
	}
	return texts
}

// waitLive waits until the page says its stream is connected.
func (tb *tab) waitLive() {
	tb.t.Helper()
	tb.waitFor("the page's stream to be live", `document.getElementById("status").dataset.state === "live"`)
}

// waitMessage waits until the page shows a message with text.
func (tb *tab) waitMessage(text string) {
	tb.t.Helper()
	tb.waitFor(fmt.Sprintf("message %q", text), fmt.Sprintf(
		`[...document.querySelectorAll("#messages li.message .text")].some(p => p.textContent === %s)`, js(text)))
}

// send types text into the message box and presses Enter.
func (tb *tab) send(text string) {
	tb.t.Helper()
	tb.do("type and send "+text, chromedp.SendKeys(chromedp.CSS("#text"), text), pressEnter)
}

// pressEnter presses Enter on the focused element as a keyboard does: one
// keydown that carries the text, which a page that cancels the keydown
// never sees as a new line. (chromedp's KeyEvent adds a separate char
// event that inserts one regardless.)
var pressEnter = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeKeyDown, input.DispatchKeyEventTypeKeyUp} {
		p := input.DispatchKeyEventParams{Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
		if typ == input.DispatchKeyEventTypeKeyDown {
			p.Text, p.UnmodifiedText = "\r", "\r"
		}
		if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, p); err != nil {
			return err
		}
	}
	return nil
})

// received returns the ids of the events the page's streams delivered
// (recordStreamsJS).
func (tb *tab) received() []string {
	tb.t.Helper()
	return eval[[]string](tb, `window.received`)
}

// ids returns the ids of msgs as the page shows them.
func ids(msgs ...chat.Message) []string {
	var s []string
	for _, m := range msgs {
		s = append(s, m.ID.String())
	}
	return s
}

// clock is how the page shows t to a reader in zone with an en-GB locale.
func clock(t time.Time, zone *time.Location) string {
	return t.In(zone).Format("15:04")
}

// conversation posts a short conversation to room, with the hard cases
// for a layout: a long name, a long unbroken word, a line break.
func conversation(t *testing.T, a *app, room chat.Room) {
	t.Helper()
	for _, m := range [][2]string{
		{"Zoë", "Who's in for game night? We start at 8."},
		{"bob", "Me! I'll bring snacks.\nAnd the dice."},
		{"alice", "Count me in — can someone send the link?"},
		{"Maximilian-Alexander Fitzgerald", "https://example.com/games/night/2026-11-26/board?invite=ZXhhbXBsZS1pbnZpdGUtY29kZQ"},
		{"alice", "Thanks! See you all at 8."},
	} {
		a.post(t, room, m[0], m[1])
	}
}
