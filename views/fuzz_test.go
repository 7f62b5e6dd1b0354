package views_test

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/views"
)

// messageShape is what MessageItem renders, in order: its elements and
// the attributes each may carry. Nothing else may appear, whatever the
// name and text.
var messageShape = []struct {
	tag   string
	attrs []string
}{
	{"li", []string{"class", "id", "data-id"}},
	{"span", []string{"class", "dir"}},
	{"time", []string{"datetime"}},
	{"p", []string{"class", "dir"}},
}

// A message renders as the component's own four elements whatever its
// name and text, which come back out of the HTML unchanged; the only other
// elements are links in the text, to http or https, with the rel and
// target of people's links.
func FuzzMessageItem(f *testing.F) {
	for _, s := range []struct{ name, text string }{
		{"alice", "hi"},
		{"<b>bob</b>", "<script>alert(1)</script>"},
		{`"><img src=x onerror=alert(1)>`, `</p></li><li class="message">forged`},
		{"&amp;", "&lt;p&gt; &#x3c;script&#62; &#0;"},
		{"名前", "こんにちは 👋🏽 مرحبا"},
		{"", ""},
		{"a\x00b", "line\r\nbreak\rcr\ttab"},
		{"<!--", "--><![CDATA[x]]><?php ?><!DOCTYPE html>"},
		{"\xff\xfe", "<svg><style><img src=x></style></svg>"},
		{"<textarea>", "<plaintext><xmp><noscript><title>"},
		{"ann", `see https://example.org/x. (http://a.b/c) javascript:alert(1) http://a"onmouseover=x https://[::1]:80/ HTTP://Q.Q/%ZZ`},
	} {
		f.Add(s.name, s.text, uint64(1767225600000), uint64(1), int64(1767225600000), false)
		f.Add(s.name, s.text, uint64(0), uint64(0), int64(0), true)
	}
	f.Fuzz(func(t *testing.T, name, text string, epoch, seq uint64, unixMilli int64, mine bool) {
		m := chat.Message{Username: name, Text: text, ID: chat.ID{Epoch: epoch, Seq: seq}}
		if unixMilli != 0 {
			m.Time = time.UnixMilli(unixMilli).UTC()
		}
		var b bytes.Buffer
		if err := views.MessageItem(m, mine).Render(context.Background(), &b); err != nil {
			t.Fatalf("render %+v: %v", m, err)
		}

		z := html.NewTokenizer(&b)
		var open []string // elements open, innermost last
		step := 0
		texts := map[string]*strings.Builder{"span": {}, "time": {}, "p": {}}
		texts["a"] = texts["p"] // a link's text is the message's
		for {
			tt := z.Next()
			if tt == html.ErrorToken {
				if z.Err() != io.EOF {
					t.Fatalf("tokenizing %q: %v", b.String(), z.Err())
				}
				break
			}
			tok := z.Token()
			switch tt {
			case html.StartTagToken:
				if tok.Data == "a" && len(open) > 0 && open[len(open)-1] == "p" {
					checkLink(t, tok, text, b.String())
					open = append(open, tok.Data)
					continue
				}
				if step >= len(messageShape) || tok.Data != messageShape[step].tag {
					t.Fatalf("name %q, text %q: unexpected <%s> in %s", name, text, tok.Data, b.String())
				}
				for _, a := range tok.Attr {
					if !slices.Contains(messageShape[step].attrs, a.Key) || a.Namespace != "" {
						t.Fatalf("name %q, text %q: <%s> has attribute %q in %s", name, text, tok.Data, a.Key, b.String())
					}
				}
				open = append(open, tok.Data)
				step++
			case html.EndTagToken:
				if len(open) == 0 || open[len(open)-1] != tok.Data {
					t.Fatalf("name %q, text %q: </%s> closes nothing open (%v) in %s", name, text, tok.Data, open, b.String())
				}
				open = open[:len(open)-1]
			case html.TextToken:
				if len(open) > 0 {
					if w := texts[open[len(open)-1]]; w != nil {
						w.WriteString(tok.Data)
						continue
					}
				}
				if strings.TrimSpace(tok.Data) != "" {
					t.Fatalf("name %q, text %q: text %q outside the message's slots in %s", name, text, tok.Data, b.String())
				}
			default:
				t.Fatalf("name %q, text %q: a %v token in %s", name, text, tt, b.String())
			}
		}
		if step != len(messageShape) || len(open) != 0 {
			t.Fatalf("name %q, text %q: %d of %d elements, %v left open in %s", name, text, step, len(messageShape), open, b.String())
		}
		// The browser reads back what was posted, byte for byte, but for
		// the newlines and NULs that HTML's text rules rewrite.
		if got, want := texts["span"].String(), asHTMLText(name); got != want {
			t.Fatalf("name %q renders as %q, want %q", name, got, want)
		}
		if got, want := texts["p"].String(), asHTMLText(text); got != want {
			t.Fatalf("text %q renders as %q, want %q", text, got, want)
		}
	})
}

// checkLink fails unless tok is a link as messages may carry: an http or
// https href, rel "nofollow noopener ugc", target _blank, nothing else.
func checkLink(t *testing.T, tok html.Token, text, out string) {
	t.Helper()
	got := map[string]string{}
	for _, a := range tok.Attr {
		got[a.Key] = a.Val
	}
	href := strings.ToLower(got["href"])
	if len(got) != 3 || got["rel"] != "nofollow noopener ugc" || got["target"] != "_blank" ||
		!strings.HasPrefix(href, "http://") && !strings.HasPrefix(href, "https://") {
		t.Fatalf("text %q: a link %v in %s", text, tok.Attr, out)
	}
}

// asHTMLText is s as an HTML tokenizer reads it back from escaped text:
// CR LF and CR become LF.
func asHTMLText(s string) string {
	return strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(s)
}
