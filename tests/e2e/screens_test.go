package e2e

import (
	"testing"
	"time"

	"github.com/sessionchat/sessionchat/handlers"
)

// lowContrastJS lists the visible text whose contrast with what is behind
// it is under 4.5:1 (WCAG AA for body text), counting transparency.
const lowContrastJS = `(() => {
	const parse = (c) => { const v = c.match(/[\d.]+/g).map(Number); return {r: v[0], g: v[1], b: v[2], a: v.length > 3 ? v[3] : 1}; };
	const over = (f, b) => ({r: f.r * f.a + b.r * (1 - f.a), g: f.g * f.a + b.g * (1 - f.a), b: f.b * f.a + b.b * (1 - f.a), a: 1});
	const lum = (c) => [c.r, c.g, c.b].map((v) => (v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
		.reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
	const behind = (el) => {
		const layers = [];
		for (let e = el; e; e = e.parentElement) {
			const c = parse(getComputedStyle(e).backgroundColor);
			if (c.a > 0) layers.push(c);
			if (c.a >= 1) break;
		}
		return layers.reduceRight((b, c) => over(c, b), {r: 255, g: 255, b: 255, a: 1});
	};
	const out = [];
	for (const el of document.querySelectorAll("h1, h2, p, label, a, button, li, span, time, input, textarea")) {
		const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim()) || el.matches("input, textarea");
		if (!own || !el.getClientRects().length) continue;
		const fg = parse(getComputedStyle(el).color);
		for (let e = el; e; e = e.parentElement) fg.a *= parseFloat(getComputedStyle(e).opacity);
		const bg = behind(el), l1 = lum(over(fg, bg)), l2 = lum(bg);
		const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
		if (ratio < 4.5) out.push((el.id || el.className || el.tagName.toLowerCase()) + " " + JSON.stringify(el.textContent.trim().slice(0, 20)) + " " + ratio.toFixed(2));
	}
	return out;
})()`

// The screenshots of the docs, in light and dark: the lobby, a room with
// a conversation. Each must have readable text.
func TestScreenshots(t *testing.T) {
	a := newApp(t, handlers.Options{})
	conversation(t, a, "game-night")
	for _, room := range []string{"support-42", "support-42", "book-club"} {
		a.listen(t, room)
	}

	room := newTab(t)
	room.viewport(1000, 720, 1, false)
	room.open(a.URL + "/rooms/game-night?name=alice")
	room.waitLive()
	lobby := newTab(t)
	lobby.viewport(1000, 720, 1, false)
	lobby.open(a.URL + "/")
	lobby.waitFor("game-night in the list of rooms", `[...document.querySelectorAll("#rooms a")].some(a => a.textContent === "game-night")`)

	for _, scheme := range []string{"light", "dark"} {
		for name, tb := range map[string]*tab{"lobby": lobby, "room": room} {
			tb.colorScheme(scheme)
			if got := eval[[]string](tb, lowContrastJS); len(got) != 0 {
				t.Errorf("%s, %s: text with too little contrast: %q", name, scheme, got)
			}
		}
		room.screenshot("room-" + scheme)
	}
	lobby.colorScheme("light")
	lobby.screenshot("lobby")

	empty := newTab(t)
	empty.viewport(1000, 400, 1, false)
	empty.open(a.URL + "/rooms/new-room?name=alice")
	empty.waitLive()
	if got := eval[string](empty, `document.getElementById("empty")?.innerText ?? ""`); got == "" {
		t.Errorf("an empty room does not say so")
	}
	empty.screenshot("empty-room")
}

// The screenshots of rooms with a lifetime: a room counting down, the
// host's view of it, and a room that has ended, each with readable text in
// light and dark.
func TestRoomLifetimeScreenshots(t *testing.T) {
	a := newApp(t, handlers.Options{})
	hostPath := a.startRoom(t, "game-night", "Game night", 30*time.Minute)
	conversation(t, a, "game-night")
	a.startRoom(t, "quiz-final", "Quiz final", time.Hour)
	conversation(t, a, "quiz-final")

	countdown := newTab(t)
	countdown.viewport(1000, 720, 1, false)
	countdown.open(a.URL + "/rooms/game-night?name=alice")
	countdown.waitLive()
	countdown.waitFor("the countdown to tick", `/^(29:[0-5]\d|30:00)$/.test(document.getElementById("countdown").textContent)`)

	host := newTab(t)
	host.viewport(1000, 900, 1, false)
	host.open(a.URL + hostPath + "&name=Zoë")
	host.waitLive()

	ended := newTab(t)
	ended.viewport(1000, 720, 1, false)
	ended.open(a.URL + "/rooms/quiz-final?name=alice")
	ended.waitLive()
	if err := a.svc.End(t.Context(), "quiz-final"); err != nil {
		t.Fatal(err)
	}
	ended.waitEnded("the quiz's page")

	shots := map[string]*tab{"room-countdown": countdown, "host-view": host, "room-ended": ended}
	for _, scheme := range []string{"dark", "light"} {
		for name, tb := range shots {
			tb.colorScheme(scheme)
			if got := eval[[]string](tb, lowContrastJS); len(got) != 0 {
				t.Errorf("%s, %s: text with too little contrast: %q", name, scheme, got)
			}
		}
	}
	// The host's panel is above the conversation, which a page with
	// history starts scrolled to the end of.
	eval[bool](host, `(scrollTo(0, 0), true)`)
	for name, tb := range shots {
		tb.screenshot(name)
	}
}
