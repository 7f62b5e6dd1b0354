package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/handlers"
)

// Rooms with a lifetime and a host, in a browser: started from the lobby,
// shared, moderated, counted down and ended, with JavaScript and without.

// recordSourcesJS, added with addScript, keeps every EventSource the page
// opens in window.sources, to see that an ended room closed them.
const recordSourcesJS = `(() => {
	const Native = window.EventSource;
	window.sources = [];
	window.EventSource = class extends Native {
		constructor(url, init) { super(url, init); window.sources.push(this); }
	};
})();`

// startRoom starts a room through the service, as the lobby's form does,
// and returns the path of its host view.
func (a *app) startRoom(t *testing.T, room chat.Room, title string, lifetime time.Duration) string {
	t.Helper()
	st, err := a.svc.Start(t.Context(), chat.StartOptions{Room: room, Title: title, Ends: time.Now().Add(lifetime)})
	if err != nil {
		t.Fatalf("starting %s: %v", room, err)
	}
	return "/rooms/" + string(st.Room) + "?host=" + a.svc.HostKey(st.Room)
}

// noScript turns the tab's JavaScript off.
func (tb *tab) noScript() {
	tb.t.Helper()
	call(tb, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
}

// submit clicks sel and waits for the page the form post leads to. The
// button is scrolled to the middle first: at the bottom of the viewport
// the sticky message form would take the click.
func (tb *tab) submit(what, sel string) {
	tb.t.Helper()
	tb.center(sel)
	if _, err := chromedp.RunResponse(tb.ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		tb.t.Fatalf("%s (clicking %s): %v", what, sel, err)
	}
}

// center scrolls the element sel to the middle of the viewport.
func (tb *tab) center(sel string) {
	tb.t.Helper()
	eval[bool](tb, `(document.querySelector(`+js(sel)+`).scrollIntoView({block: "center"}), true)`)
}

// click clicks sel without waiting for anything.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.center(sel)
	tb.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// text is the text of the first element matching sel.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return eval[string](tb, `document.querySelector(`+js(sel)+`)?.textContent ?? ""`)
}

// visible reports whether the element #id is rendered (not hidden).
func (tb *tab) visible(id string) bool {
	tb.t.Helper()
	return eval[bool](tb, `document.getElementById(`+js(id)+`).checkVisibility()`)
}

// visibleJS is the condition that #id is rendered.
func visibleJS(id string) string {
	return `document.getElementById(` + js(id) + `)?.checkVisibility() === true`
}

// endsAt is the end the page shows, from its <time datetime>.
func (tb *tab) endsAt() time.Time {
	tb.t.Helper()
	s := eval[string](tb, `document.getElementById("ends").getAttribute("datetime")`)
	ends, err := time.Parse(time.RFC3339, s)
	if err != nil {
		tb.t.Fatalf("the end's datetime %q: %v", s, err)
	}
	return ends
}

// waitEnded waits until the page shows that the room has ended, with the
// message form disabled and its streams closed.
func (tb *tab) waitEnded(what string) {
	tb.t.Helper()
	tb.waitFor(what+" to show the room has ended", visibleJS("ended-note")+` && document.getElementById("status").dataset.state === "ended"`+
		` && document.getElementById("text").disabled && document.getElementById("send").disabled`)
	if !eval[bool](tb, `(window.sources || []).every((s) => s.readyState === EventSource.CLOSED)`) {
		tb.t.Errorf("%s: an event stream is still open after the end", what)
	}
}

// deleteButtonJS is the host's delete button on the message with text.
func deleteButtonJS(text string) string {
	return `[...document.querySelectorAll("#messages li.message")].find((li) => li.querySelector(".text").textContent === ` + js(text) + `)?.querySelector(".delete-button")`
}

// gone is the condition that no message with text is shown.
func gone(text string) string {
	return `![...document.querySelectorAll("#messages li.message .text")].some((p) => p.textContent === ` + js(text) + `)`
}

var clockRE = regexp.MustCompile(`^(?:\d+:)?\d{1,2}:\d\d$`)

// A host starts a 30-minute room from the lobby, shares it, and moderates
// it with JavaScript: each action shows at once on every open page (the
// stream's room, deleted and ended events), without a reload.
func TestHostedRoomWithJavaScript(t *testing.T) {
	a := newApp(t, handlers.Options{})
	host := newTab(t)
	host.addScript(recordSourcesJS)
	host.open(a.URL + "/")
	if got := eval[string](host, `document.getElementById("start-minutes").value`); got != "30" {
		t.Errorf("the lobby offers a room for %q minutes, want 30", got)
	}
	host.do("title the room", chromedp.SendKeys(chromedp.CSS("#start-title-input"), "Game night"))
	started := time.Now().Truncate(time.Second)
	host.submit("start the room", "#start button[type=submit]")
	if got := eval[string](host, `location.pathname + location.search`); !regexp.MustCompile(`^/rooms/[a-z]+-[a-z]+-[a-z2-7]{6}\?host=[A-Za-z0-9_-]{43}$`).MatchString(got) {
		t.Fatalf("starting a room led to %s, want its host view /rooms/{generated name}?host=KEY", got)
	}
	host.waitLive()
	room := chat.Room(eval[string](host, `document.getElementById("chat").dataset.room`))
	if ends := host.endsAt(); ends.Before(started.Add(30*time.Minute)) || ends.After(time.Now().Add(30*time.Minute)) {
		t.Errorf("the room ends at %v, want 30 minutes after %v", ends, started)
	}
	host.waitFor("the countdown to tick", `/^(29:[0-5]\d|30:00)$/.test(document.getElementById("countdown").textContent)`)
	if got := host.text("#ends"); !strings.Contains(got, "UTC") && !strings.Contains(got, "GMT") {
		t.Errorf("the end shows as %q, without its time zone", got)
	}
	share := eval[string](host, `document.getElementById("share-link").value`)
	if want := a.URL + "/rooms/" + string(room); share != want {
		t.Errorf("share link %q, want %q", share, want)
	}
	if got := eval[string](host, `document.getElementById("host-link").value`); got != a.URL+eval[string](host, `location.pathname + location.search`) {
		t.Errorf("host link %q is not the host view's address", got)
	}

	guest := newTab(t)
	guest.addScript(recordSourcesJS)
	guest.open(share + "?name=guest")
	guest.waitLive()
	if got := guest.text("#room-title"); got != "Game night" {
		t.Errorf("the guest's page is titled %q", got)
	}
	if eval[bool](guest, `!!document.getElementById("host") || !!document.querySelector(".delete-button")`) {
		t.Errorf("the guest's page has the host's controls")
	}
	guest.send("hello, host")
	host.waitMessage("hello, host")
	host.waitFor("a delete button on the live message", deleteButtonJS("hello, host"))

	// Lock: the guest sees it at once; a post then gets the error in words.
	host.click("#lock-form button")
	guest.waitFor("the locked note", visibleJS("locked-note"))
	host.waitFor("the unlock form", visibleJS("unlock-form")+` && !`+visibleJS("lock-form"))
	guest.send("can you hear me?")
	guest.waitFor("the locked error", `document.getElementById("form-error").textContent === "Your message was not sent: the host has locked this room."`)
	if got := eval[string](guest, `document.getElementById("text").value`); got != "can you hear me?" {
		t.Errorf("after the refused post the message box holds %q, want the draft", got)
	}
	host.click("#unlock-form button")
	guest.waitFor("the locked note to go", `!`+visibleJS("locked-note"))
	guest.do("send again", chromedp.Focus(chromedp.CSS("#text")), pressEnter)
	host.waitMessage("can you hear me?")

	// Delete: gone from every open page and from the history.
	spam := a.post(t, room, "troll", "buy cheap stuff")
	host.waitMessage(spam.Text)
	guest.waitMessage(spam.Text)
	eval[bool](host, deleteButtonJS(spam.Text)+`.click() ?? true`)
	guest.waitFor("the deleted message to go", gone(spam.Text))
	host.waitFor("the deleted message to go", gone(spam.Text))
	if stored, _ := a.svc.History(t.Context(), room); len(stored) != 2 {
		t.Errorf("after the delete the history holds %d messages, want 2", len(stored))
	}

	// Extend: the end moves on every page; the countdown follows.
	before := host.endsAt()
	host.click(`#extend-form button[value="15m"]`)
	for name, tb := range map[string]*tab{"host": host, "guest": guest} {
		tb.waitFor(name+"'s end to move by 15 minutes", `document.getElementById("ends").getAttribute("datetime") === `+js(before.Add(15*time.Minute).UTC().Format(time.RFC3339)))
		tb.waitFor(name+"'s countdown to follow", `/^(4[45]:[0-5]\d)$/.test(document.getElementById("countdown").textContent)`)
	}

	// The transcript downloads as a file with the conversation in it.
	dir := t.TempDir()
	// Downloads are per browser context: the tab's own.
	host.do("allow downloads", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: new(true),
			BrowserContextID: chromedp.FromContext(ctx).BrowserContextID,
		})
		return err
	}))
	progress := chromedp.Events(host.ctx, cdpbrowser.DownloadProgress)
	host.click("#transcript summary")
	host.click(`#transcript a[href$=".txt"]`)
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("waiting for the transcript download: %v", err)
		}
		if ev.State == cdpbrowser.DownloadProgressStateCanceled {
			t.Fatalf("the transcript download was canceled")
		}
		if ev.State != cdpbrowser.DownloadProgressStateCompleted {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, ev.GUID))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"hello, host", "can you hear me?"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("the transcript lacks %q:\n%s", want, b)
			}
		}
		if strings.Contains(string(b), spam.Text) {
			t.Errorf("the transcript has the deleted message")
		}
		break
	}

	// End now: every page says so, closes its stream, disables its form,
	// and keeps the history readable.
	host.click("#end-form button")
	host.waitEnded("the host's page")
	guest.waitEnded("the guest's page")
	if !eval[bool](host, `!`+visibleJS("host-controls")+` && !document.querySelector(".delete-button")`) {
		t.Errorf("after the end the host still has controls")
	}
	for name, tb := range map[string]*tab{"host": host, "guest": guest} {
		if got := tb.texts(); len(got) != 2 || got[0] != "hello, host" {
			t.Errorf("%s's page after the end shows %q, want the history", name, got)
		}
		if !eval[bool](tb, `document.getElementById("transcript").open`) {
			t.Errorf("%s's page after the end does not offer the transcript", name)
		}
	}
	// Loaded after the end, the page is ended from the server and opens no
	// stream (it would be 410 Gone).
	guest.do("reload", chromedp.Reload())
	guest.waitEnded("the reloaded page")
	if n := eval[int](guest, `window.sources.length`); n != 0 {
		t.Errorf("the page of an ended room opened %d event streams", n)
	}
}

// The same story with JavaScript off: every host action is a plain form
// post that comes back to the host view, and the pages say what happened.
func TestHostedRoomWithoutJavaScript(t *testing.T) {
	a := newApp(t, handlers.Options{})
	host := newTab(t)
	host.noScript()
	host.open(a.URL + "/")
	host.do("fill in the start form",
		chromedp.SetValue(chromedp.CSS("#start-minutes"), "30"),
		chromedp.SendKeys(chromedp.CSS("#start-title-input"), "Support call"),
		chromedp.SendKeys(chromedp.CSS("#start-room"), "support-42"),
	)
	host.submit("start the room", "#start button[type=submit]")
	hostPath := eval[string](host, `location.pathname + location.search`)
	if !strings.HasPrefix(hostPath, "/rooms/support-42?host=") {
		t.Fatalf("starting a room led to %s, want /rooms/support-42?host=KEY", hostPath)
	}
	if got := host.text("#countdown"); got != "30 minutes" {
		t.Errorf("without JavaScript the countdown says %q, want 30 minutes", got)
	}
	if got := host.text("#ends"); !strings.HasSuffix(got, " UTC") {
		t.Errorf("without JavaScript the end shows as %q, want a UTC time", got)
	}
	share := eval[string](host, `document.getElementById("share-link").value`)
	if share != a.URL+"/rooms/support-42" {
		t.Errorf("share link %q", share)
	}

	guest := newTab(t)
	guest.noScript()
	guest.open(share)
	post := func(text string) {
		t.Helper()
		guest.do("write "+text, chromedp.SetValue(chromedp.CSS("#name"), "guest"), chromedp.SetValue(chromedp.CSS("#text"), text))
		guest.submit("post "+text, "#send")
	}
	post("my printer is on fire")
	spam := a.post(t, "support-42", "troll", "buy cheap stuff")

	// Lock: a post gets a readable page with the error and the draft.
	host.submit("lock", "#lock-form button")
	if got := eval[string](host, `location.pathname + location.search`); got != hostPath {
		t.Errorf("after lock the host is at %s, want back at %s", got, hostPath)
	}
	if !host.visible("locked-note") || !host.visible("unlock-form") || host.visible("lock-form") {
		t.Errorf("after lock the host view does not show the room locked")
	}
	post("hello?")
	if got := guest.text("#form-error"); got != "Your message was not sent: the host has locked this room." {
		t.Errorf("a post to the locked room says %q", got)
	}
	if got := eval[string](guest, `document.getElementById("text").value`); got != "hello?" {
		t.Errorf("the refused post's page holds %q, want the draft", got)
	}
	host.submit("unlock", "#unlock-form button")
	if host.visible("locked-note") {
		t.Errorf("after unlock the room still shows locked")
	}

	// Delete, from the button on the message.
	host.do("reload", chromedp.Reload())
	host.submit("delete", "#m-"+spam.ID.String()+" .delete-button")
	if eval[bool](host, `!!document.getElementById("m-`+spam.ID.String()+`")`) {
		t.Errorf("after the delete the host view still shows the message")
	}
	guest.open(share) // not a reload: that would post the refused form again
	if got := guest.texts(); len(got) != 1 || got[0] != "my printer is on fire" {
		t.Errorf("after the delete the guest sees %q", got)
	}

	// Extend by 15 minutes.
	before := host.endsAt()
	host.submit("extend", `#extend-form button[value="15m"]`)
	if got := host.endsAt(); !got.Equal(before.Add(15 * time.Minute)) {
		t.Errorf("after +15 min the room ends at %v, want %v", got, before.Add(15*time.Minute))
	}
	if got := host.text("#countdown"); got != "45 minutes" {
		t.Errorf("after +15 min the countdown says %q, want 45 minutes", got)
	}

	// End now.
	host.submit("end", "#end-form button")
	for name, tb := range map[string]*tab{"host": host, "guest": guest} {
		if name == "guest" {
			tb.open(share)
		}
		if !tb.visible("ended-note") || tb.visible("ends-line") || !eval[bool](tb, `document.getElementById("send").disabled`) {
			t.Errorf("%s's page after the end does not say it has ended with the form disabled", name)
		}
		if got := tb.texts(); len(got) != 1 {
			t.Errorf("%s's page after the end shows %q, want the history", name, got)
		}
		if got := tb.text("#status"); got != "ended" {
			t.Errorf("%s's status says %q, want ended", name, got)
		}
	}
	if host.visible("host-controls") {
		t.Errorf("the host's controls stay after the end")
	}
	if got := eval[string](host, `document.querySelector('#transcript a[href$=".txt"]').href`); got != a.URL+"/rooms/support-42/transcript.txt" {
		t.Errorf("the transcript link is %q", got)
	}
}

// A room's end, reached by its clock, shows on every open page at once:
// the countdown runs down to 0:00, then each page says the room has ended
// and closes its stream.
func TestCountdownReachesTheEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a room's 5-second lifetime")
	}
	a := newApp(t, handlers.Options{})
	const lifetime = 5 * time.Second
	hostPath := a.startRoom(t, "last-call-timed", "Last call", lifetime)
	room := "last-call-timed"
	a.post(t, chat.Room(room), "Zoë", "five seconds left!")

	// Each page notes the countdown's texts as they change.
	const recordCountdownJS = `window.counted = [];
document.addEventListener("DOMContentLoaded", () => {
	const c = document.getElementById("countdown");
	if (c) new MutationObserver(() => window.counted.push(c.textContent)).observe(c, {childList: true, characterData: true, subtree: true});
});`
	pages := map[string]string{"reader": "/rooms/" + room + "?name=reader", "embed": "/embed/" + room + "?name=embedded", "host": hostPath}
	tabs := map[string]*tab{}
	for name, path := range pages {
		tb := newTab(t)
		tb.addScript(recordSourcesJS)
		tb.addScript(recordCountdownJS)
		tb.open(a.URL + path)
		tabs[name] = tb
	}
	for name, tb := range tabs {
		tb.waitLive()
		if tb.visible("ended-note") {
			t.Fatalf("%s's page loaded after the room's end: the machine took over %v to open three tabs", name, lifetime)
		}
	}
	for name, tb := range tabs {
		tb.waitEnded(name + "'s page")
		counted := eval[[]string](tb, `window.counted`)
		if len(counted) < 2 || counted[len(counted)-1] != "0:00" {
			t.Errorf("%s's countdown showed %q, want it to run down to 0:00", name, counted)
		}
		for _, c := range counted {
			if !clockRE.MatchString(c) {
				t.Errorf("%s's countdown showed %q", name, c)
			}
		}
		if got := tb.texts(); len(got) != 1 || got[0] != "five seconds left!" {
			t.Errorf("%s's page after the end shows %q, want the history", name, got)
		}
	}
}

// On a phone the host's view and an ended room reach past no edge: the
// long links scroll inside their fields, the controls wrap.
func TestHostViewOnAPhone(t *testing.T) {
	a := newApp(t, handlers.Options{})
	long := chat.Room(strings.Repeat("room-name-", 6) + "end")
	hostPath := a.startRoom(t, long, "A title long enough to wrap on a phone, with a word like Supercalifragilistic", time.Hour)
	conversation(t, a, long)
	tb := newTab(t)
	tb.viewport(390, 844, 2, true)
	tb.open(a.URL + hostPath)
	tb.waitLive()
	if got := eval[[]string](tb, offendersJS); len(got) != 0 {
		t.Errorf("host view at 390×844: past the edges: %q", got)
	}
	if err := a.svc.End(t.Context(), long); err != nil {
		t.Fatal(err)
	}
	tb.waitEnded("the host's page")
	if got := eval[[]string](tb, offendersJS); len(got) != 0 {
		t.Errorf("ended room at 390×844: past the edges: %q", got)
	}
}
