package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/handlers"
)

// Two people in one room, each in a browser of their own: what one sends
// appears live in the other's page, once, under the right name, with
// Japanese text and emoji intact.
func TestMessageAppearsLiveInAnotherTab(t *testing.T) {
	a := newApp(t, handlers.Options{})
	alice, bob := newTab(t), newTab(t)
	alice.open(a.URL + "/rooms/tea?name=alice")
	bob.open(a.URL + "/rooms/tea?name=bob")
	for _, tb := range []*tab{alice, bob} {
		tb.waitLive()
		if got := eval[string](tb, `document.getElementById("empty")?.textContent ?? ""`); got == "" {
			t.Errorf("an empty room does not say so")
		}
		// Gone after a reload: proves the page never reloaded.
		eval[bool](tb, `window.sameDocument = true`)
	}

	const hello, reply = "こんにちは、世界！👋🏽 お茶はいかが？ 🍵", "いいね 😄 — on my way"
	alice.send(hello)
	bob.waitMessage(hello)
	bob.send(reply)
	alice.waitMessage(reply)

	for name, tb := range map[string]*tab{"alice": alice, "bob": bob} {
		// A sender's own message comes back on its stream too, and may
		// arrive after the other tab showed it.
		tb.waitMessage(hello)
		tb.waitMessage(reply)
		want := []shown{{User: "alice", Text: hello, Mine: name == "alice"}, {User: "bob", Text: reply, Mine: name == "bob"}}
		if diff := cmp.Diff(want, plain(tb.messages())); diff != "" {
			t.Errorf("%s's page shows (-want +got):\n%s", name, diff)
		}
		if !eval[bool](tb, `window.sameDocument === true`) {
			t.Errorf("%s's page reloaded", name)
		}
		if eval[bool](tb, `!!document.getElementById("empty")`) {
			t.Errorf("%s's page still says the room is empty", name)
		}
	}
	stored, err := a.svc.History(t.Context(), "tea")
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 2 || stored[0].Text != hello || stored[1].Text != reply {
		t.Errorf("stored %+v, want exactly %q then %q", stored, hello, reply)
	}
}

// A reload renders the history, each message once, and the page's stream
// starts after the last rendered message: the stream never delivers it
// again.
func TestReloadShowsHistoryOnce(t *testing.T) {
	a := newApp(t, handlers.Options{})
	first := a.post(t, "books", "Zoë", "Chapter one tonight?")
	second := a.post(t, "books", "bob", "Yes, 9 pm.")

	tb := newTab(t)
	tb.addScript(recordStreamsJS)
	tb.open(a.URL + "/rooms/books?name=dana")
	tb.waitLive()
	if req := a.nextStream(t); req.after != second.ID.String() {
		t.Errorf("the page opened its stream after %q, want after its last message %q", req.after, second.ID)
	}
	tb.send("I'll be there")
	tb.waitMessage("I'll be there")
	stored, _ := a.svc.History(t.Context(), "books")
	third := stored[len(stored)-1]

	tb.do("reload", chromedp.Reload())
	tb.waitLive()
	if req := a.nextStream(t); req.after != third.ID.String() {
		t.Errorf("after the reload the stream starts after %q, want %q", req.after, third.ID)
	}
	fourth := a.post(t, "books", "bob", "Great, see you.")
	tb.waitMessage(fourth.Text)

	if diff := cmp.Diff([]string{first.Text, second.Text, "I'll be there", fourth.Text}, tb.texts()); diff != "" {
		t.Errorf("messages after the reload (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(ids(fourth), tb.received()); diff != "" {
		t.Errorf("events the stream delivered after the reload (-want +got):\n%s", diff)
	}
	if got := tb.messages(); !got[2].Mine || got[3].Mine {
		t.Errorf("own messages not marked after the reload: %+v", got)
	}
}

// When the server ends the stream, the page says it is reconnecting,
// resumes with Last-Event-ID and shows what was posted meanwhile, once.
func TestResumeAfterTheStreamDrops(t *testing.T) {
	a := newApp(t, handlers.Options{})
	before := a.post(t, "ops", "Zoë", "deploy at noon")

	tb := newTab(t)
	tb.addScript(recordStreamsJS)
	tb.open(a.URL + "/rooms/ops?name=erin")
	tb.waitLive()
	a.nextStream(t)
	seen := a.post(t, "ops", "Zoë", "starting now")
	tb.waitMessage(seen.Text)

	eval[bool](tb, `(() => {
		const status = document.getElementById("status");
		window.states = [];
		new MutationObserver(() => window.states.push(status.dataset.state + ": " + status.textContent))
			.observe(status, {attributes: true, childList: true, characterData: true, subtree: true});
		return true;
	})()`)
	release := a.holdStreams()
	defer release()
	a.hub.Drop("ops")
	tb.waitFor("the page to say it is reconnecting", `document.getElementById("status").dataset.state === "reconnecting"`)
	req := a.nextStream(t) // the page's reconnection, held
	if req.lastEventID != seen.ID.String() {
		t.Errorf("the page resumed with Last-Event-ID %q, want %q (the last event it saw)", req.lastEventID, seen.ID)
	}
	missed := []chat.Message{a.post(t, "ops", "Zoë", "step 1 done"), a.post(t, "ops", "Zoë", "step 2 done")}
	release()

	tb.waitMessage(missed[1].Text)
	tb.waitLive()
	if diff := cmp.Diff([]string{before.Text, seen.Text, missed[0].Text, missed[1].Text}, tb.texts()); diff != "" {
		t.Errorf("messages after resuming (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(ids(seen, missed[0], missed[1]), tb.received()); diff != "" {
		t.Errorf("events the streams delivered (-want +got):\n%s", diff)
	}
	states := eval[[]string](tb, `window.states`)
	reconnecting := slices.Index(states, "reconnecting: reconnecting…")
	if reconnecting < 0 || !slices.Contains(states[reconnecting:], "live: live") {
		t.Errorf("the connection indicator showed %q, want reconnecting then live", states)
	}
}

// With JavaScript off the form posts, and the page it redirects to shows
// the message.
func TestFormWorksWithoutJavaScript(t *testing.T) {
	a := newApp(t, handlers.Options{})
	a.post(t, "quiet", "Zoë", "anyone here?")
	tb := newTab(t)
	call(tb, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	tb.open(a.URL + "/rooms/quiet")
	if got := eval[string](tb, `document.getElementById("status").innerText`); !strings.Contains(got, "reload to see new messages") {
		t.Errorf("without JavaScript the status says %q, want the note that live updates need it", got)
	}
	tb.do("fill in the form",
		chromedp.SendKeys(chromedp.CSS("#name"), "frank"),
		chromedp.SendKeys(chromedp.CSS("#text"), "hello without scripts"),
	)
	if _, err := chromedp.RunResponse(tb.ctx, chromedp.Click(chromedp.CSS("#send"))); err != nil {
		t.Fatalf("submitting the form: %v", err)
	}
	if got := eval[string](tb, `location.pathname`); got != "/rooms/quiet" {
		t.Errorf("after posting the browser is at %s, want /rooms/quiet", got)
	}
	want := []shown{{User: "Zoë", Text: "anyone here?"}, {User: "frank", Text: "hello without scripts", Mine: true}}
	if diff := cmp.Diff(want, plain(tb.messages())); diff != "" {
		t.Errorf("the page after the post shows (-want +got):\n%s", diff)
	}
	if got := eval[string](tb, `document.getElementById("status").dataset.state`); got != "offline" {
		t.Errorf("status %q: the page's script ran", got)
	}
	tb.screenshot("no-javascript")
}

// Markup in a message is text, live and from history, and nothing in it
// runs: not even an attempt that the Content-Security-Policy would block.
func TestMarkupInMessagesIsText(t *testing.T) {
	a := newApp(t, handlers.Options{})
	payloads := []string{
		`<script>window.pwned = "script"</script>`,
		`<img src=x onerror="window.pwned = 'img'">`,
		`<b>bold?</b> &amp; &lt;i&gt;`,
	}
	const name = `<img src=y onerror=pwned=1>`
	a.post(t, "xss", name, payloads[0])
	writer, reader := newTab(t), newTab(t)
	for _, tb := range []*tab{writer, reader} {
		tb.addScript(recordViolationsJS)
	}
	writer.open(a.URL + "/rooms/xss?name=mallory")
	reader.open(a.URL + "/rooms/xss?name=reader")
	writer.waitLive()
	reader.waitLive()
	for _, p := range payloads[1:] {
		writer.send(p)
		reader.waitMessage(p)
	}

	check := func(when string, tb *tab) {
		t.Helper()
		if diff := cmp.Diff(payloads, tb.texts()); diff != "" {
			t.Errorf("%s: message texts (-want +got):\n%s", when, diff)
		}
		if got := tb.messages()[0].User; got != name {
			t.Errorf("%s: name shown as %q", when, got)
		}
		if n := eval[int](tb, `document.querySelectorAll("#messages script, #messages img, #messages b").length`); n != 0 {
			t.Errorf("%s: %d elements made from message text", when, n)
		}
		if got := eval[string](tb, `String(window.pwned)`); got != "undefined" {
			t.Errorf("%s: message markup ran: window.pwned = %q", when, got)
		}
		if got := eval[[]string](tb, `window.violations`); len(got) != 0 {
			t.Errorf("%s: the Content-Security-Policy blocked %q: message text reached the page as HTML", when, got)
		}
	}
	writer.waitMessage(payloads[len(payloads)-1]) // its own last one comes back on its stream
	check("sender's page", writer)
	check("live", reader)
	reader.do("reload", chromedp.Reload())
	reader.waitLive()
	check("history", reader)
}

// Times are shown in the reader's time zone, as is the note on when the
// history vanishes.
func TestTimesInTheReadersTimeZone(t *testing.T) {
	a := newApp(t, handlers.Options{HistoryTTL: 90 * time.Minute})
	old := a.post(t, "tz", "Zoë", "what time is it for you?")
	tb := newTab(t)
	// Japan: nine hours from the machine's UTC, no daylight saving.
	call(tb, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Tokyo"})
	call(tb, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: "en-GB"})
	tokyo := time.FixedZone("JST", 9*3600)
	tb.open(a.URL + "/rooms/tz?name=kenji")
	tb.waitLive()
	live := a.post(t, "tz", "Zoë", "evening here")
	tb.waitMessage(live.Text)

	got := tb.messages()
	for i, m := range []chat.Message{old, live} {
		if want := clock(m.Time, tokyo); got[i].Time != want {
			t.Errorf("message %q posted at %s UTC shows %q, want %q (Tokyo)", m.Text, m.Time.Format("15:04"), got[i].Time, want)
		}
	}
	// The history's end names the zone, as it says UTC without the script.
	want := clock(live.Time.Add(90*time.Minute), tokyo) + " GMT+9"
	if got := eval[string](tb, `document.querySelector("#expiry time").textContent`); got != want {
		t.Errorf("the history vanishes at %q, want %q (the last post plus 90 minutes, Tokyo time)", got, want)
	}
}
