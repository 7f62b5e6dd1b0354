package views_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/views"
)

// textHTML is the rendered text of a message: what is inside <p class="text">.
var textHTML = regexp.MustCompile(`<p class="text" dir="auto">(.*)</p>`)

func TestLinks(t *testing.T) {
	const a = `<a href="%s" rel="nofollow noopener ugc" target="_blank">%s</a>`
	link := func(href, text string) string {
		return strings.Replace(strings.Replace(a, "%s", href, 1), "%s", text, 1)
	}
	for _, c := range []struct{ text, want string }{
		{"no link here", "no link here"},
		{"https://example.org", link("https://example.org", "https://example.org")},
		{"see https://example.org/a?b=1&c=2.", "see " + link("https://example.org/a?b=1&amp;c=2", "https://example.org/a?b=1&amp;c=2") + "."},
		{"(http://example.com/x)", "(" + link("http://example.com/x", "http://example.com/x") + ")"},
		{"wiki http://en.wikipedia.org/wiki/Go_(language)!", "wiki " + link("http://en.wikipedia.org/wiki/Go_(language)", "http://en.wikipedia.org/wiki/Go_(language)") + "!"},
		{"javascript:alert(1)", "javascript:alert(1)"},
		{"ftp://example.net and mailto:a@b.c", "ftp://example.net and mailto:a@b.c"},
		{"http://user:pw@example.org/", "http://user:pw@example.org/"},
		{"http:// nothing", "http:// nothing"},
		{`https://x.org/"onmouseover="alert(1)`, link("https://x.org/", "https://x.org/") + `&#34;onmouseover=&#34;alert(1)`},
		{"見て https://example.jp/ページ。", "見て " + link("https://example.jp/%E3%83%9A%E3%83%BC%E3%82%B8", "https://example.jp/ページ") + "。"},
	} {
		m := chat.Message{ID: chat.ID{Epoch: 1, Seq: 1}, Username: "a", Text: c.text, Time: t0}
		got := textHTML.FindStringSubmatch(render(t, views.MessageItem(m, false)))
		if got == nil || got[1] != c.want {
			t.Errorf("%q renders as %q, want %q", c.text, got, c.want)
		}
	}
}

func TestGroups(t *testing.T) {
	at := func(min float64) time.Time { return t0.Add(time.Duration(min * float64(time.Minute))) }
	ms := []chat.Message{
		{Username: "bob", Text: "1", Time: at(0)},
		{Username: "bob", Text: "2", Time: at(1)},   // soon after: grouped
		{Username: "bob", Text: "3", Time: at(5)},   // four minutes later: not
		{Username: "carol", Text: "4", Time: at(5)}, // someone else: not
		{Username: "carol", Text: "5"},              // no time (the original app's): not
		{Username: "carol", Text: "6", Time: at(6), Author: "xxxxxxxxxxxxxxxxxxxxxx"},
		{Username: "carol", Text: "7", Time: at(6), Author: "yyyyyyyyyyyyyyyyyyyyyy"}, // another carol: not
		{Username: "carol", Text: "8", Time: at(7), Author: "yyyyyyyyyyyyyyyyyyyyyy"}, // the same carol: grouped
	}
	for i := range ms {
		ms[i].ID = chat.ID{Epoch: 1, Seq: uint64(i + 1)}
	}
	page := render(t, views.RoomPage(views.RoomView{Room: "r", Messages: ms, TTL: time.Hour}))
	var got []string
	for _, li := range regexp.MustCompile(`<li class="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		if strings.Contains(li[1], "message") {
			got = append(got, li[1])
		}
	}
	want := []string{"message", "message cont", "message", "message", "message", "message", "message", "message cont", "message"}
	if strings.Join(got, ",") != strings.Join(want, ",") { // the last is the template
		t.Errorf("classes %q, want %q", got, want)
	}
}
