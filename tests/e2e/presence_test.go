package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sessionchat/sessionchat/handlers"
)

// Two browsers, one name: each sees only its own messages as its own,
// the second is offered a numbered name rather than sharing the first's,
// both are listed as here (each with a mark of its own), typing shows in
// the other's page, and a page without JavaScript renders who is here.
func TestSameNameTwoBrowsers(t *testing.T) {
	a := newApp(t, handlers.Options{})
	first, second := newTab(t), newTab(t)
	first.open(a.URL + "/rooms/twins?name=sam")
	second.open(a.URL + "/rooms/twins?name=sam")
	first.waitLive()
	second.waitLive()
	const here = `document.querySelectorAll("#people .person").length`
	first.waitFor("two people here", here+` === 2`)
	second.waitFor("two people here", here+` === 2`)
	if got := eval[string](first, `[...document.querySelectorAll("#people .person")].map(p => p.textContent).join(",")`); got != "sam,sam" {
		t.Errorf("presence shows %q, want sam twice", got)
	}
	if eval[int](first, `new Set([...document.querySelectorAll("#people .person .mark")].map(m => m.title)).size`) != 2 {
		t.Errorf("the two sams' marks carry one author")
	}

	// Typing shows on the other page, and goes when the message comes.
	first.do("type", chromedp.SendKeys(chromedp.CSS("#text"), "hel"))
	second.waitFor("sam is typing", `document.getElementById("typing").textContent === "sam is typing…"`)
	first.do("type and send", chromedp.SendKeys(chromedp.CSS("#text"), "lo from the first"), pressEnter)
	second.waitMessage("hello from the first")
	second.waitFor("typing gone", `document.getElementById("typing").textContent === ""`)

	// The second sam posts: refused, offered "sam (2)", which sending
	// again takes.
	second.send("from the second")
	second.waitFor("the choice", `document.getElementById("form-error").textContent.includes("sam (2)")`)
	if got := eval[string](second, `document.getElementById("name").value`); got != "sam (2)" {
		t.Errorf("the name field holds %q, want the offered sam (2)", got)
	}
	second.do("send again", chromedp.Focus(chromedp.CSS("#text")), pressEnter)
	first.waitMessage("from the second")
	second.waitMessage("from the second")
	for who, tb := range map[string]*tab{"first": first, "second": second} {
		mine := eval[[]string](tb, `[...document.querySelectorAll("#messages li.my-message .text")].map(p => p.textContent)`)
		want := map[string]string{"first": "hello from the first", "second": "from the second"}[who]
		if len(mine) != 1 || mine[0] != want {
			t.Errorf("the %s sam's page marks %q as theirs, want just %q", who, mine, want)
		}
	}

	// Without JavaScript the room page still says who is here.
	plain := newTab(t)
	plain.noScript()
	plain.open(a.URL + "/rooms/twins")
	if got := plain.text("#people"); strings.Count(got, "sam") != 2 {
		t.Errorf("the page without JavaScript lists %q, want both sams", got)
	}
}
