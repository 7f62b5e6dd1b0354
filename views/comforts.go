package views

import (
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sessionchat/sessionchat/chat"
)

// Description is the meta description of every page.
const Description = "sessionchat: short-lived chat rooms. Pick a name, open a room, talk; it works without JavaScript and vanishes when it is done."

// GroupWindow is how close in time a message must follow the one before
// by the same author to join its group (shown without its own header).
const GroupWindow = 3 * time.Minute

// sameGroup reports whether m continues prev's group: the same author,
// both timed, and m within GroupWindow of prev. The author is the name
// and, where messages carry it, the author tag; chat.js applies the same
// rule to live messages (keep the two in step).
func sameGroup(prev, m chat.Message) bool {
	if prev.Username != m.Username || !sameAuthorTag(prev, m) {
		return false
	}
	if prev.Time.IsZero() || m.Time.IsZero() {
		return false
	}
	d := m.Time.Sub(prev.Time)
	return d >= 0 && d <= GroupWindow
}

// sameAuthorTag compares what tells two authors of one name apart: their
// author tags (two untagged items: the name alone decides).
func sameAuthorTag(a, b chat.Message) bool { return a.Author == b.Author }

// continues reports whether message i of msgs continues the group of the
// one before it.
func continues(msgs []chat.Message, i int) bool {
	return i > 0 && sameGroup(msgs[i-1], msgs[i])
}

// segment is a piece of a message's text: plain, or a link (Href set).
type segment struct {
	Text string
	Href string
}

// linkPattern finds the candidates for links: http or https, then
// anything up to white space or a character that cannot be in a URL as
// people write them. linkify trims and checks each candidate.
var linkPattern = regexp.MustCompile(`(?i)\bhttps?://[^\s<>"'\x60]+`)

// linkify splits text into plain pieces and links. A link is an absolute
// http or https URL with a host; trailing punctuation that ends a
// sentence ("see https://x.org.") is left out of it, and so is a closing
// bracket that has no opening one in the link. The text of every piece
// is the text as written: only the href of a link is its parsed URL.
// chat.js's linkify applies the same rule to live messages.
func linkify(text string) []segment {
	var out []segment
	last := 0
	for _, loc := range linkPattern.FindAllStringIndex(text, -1) {
		start, end := loc[0], loc[1]
		end = start + len(trimLink(text[start:end]))
		href, ok := safeLink(text[start:end])
		if !ok {
			continue
		}
		if start > last {
			out = append(out, segment{Text: text[last:start]})
		}
		out = append(out, segment{Text: text[start:end], Href: href})
		last = end
	}
	if last < len(text) || len(out) == 0 {
		out = append(out, segment{Text: text[last:]})
	}
	return out
}

// trimLink drops what follows a URL in prose rather than belonging to it.
func trimLink(s string) string {
	for s != "" {
		r, size := utf8.DecodeLastRuneInString(s)
		switch {
		case strings.ContainsRune(".,;:!?*", r):
		case r == ')' && strings.Count(s, "(") < strings.Count(s, ")"):
		case r == ']' && strings.Count(s, "[") < strings.Count(s, "]"):
		case r == '}' && strings.Count(s, "{") < strings.Count(s, "}"):
		case unicode.IsPunct(r) && r >= utf8.RuneSelf: // 「」、。 and the like
		default:
			return s
		}
		s = s[:len(s)-size]
	}
	return s
}

// safeLink is the href of a link candidate, if it is an http or https
// URL with a host.
func safeLink(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil {
		return "", false
	}
	if scheme := strings.ToLower(u.Scheme); scheme != "http" && scheme != "https" {
		return "", false
	}
	return u.String(), true
}

// linkRel is the rel of a link in a message: people's links earn the
// site nothing (nofollow, ugc) and the page opened learns nothing of this
// one (noopener).
const linkRel = "nofollow noopener ugc"

// notSent is the form's error line for what went wrong with a post:
// "Your message was not sent: name is empty."
func notSent(msg string) string {
	msg = strings.TrimSuffix(strings.TrimSpace(msg), ".")
	if msg == "" {
		return ""
	}
	return "Your message was not sent: " + msg + "."
}
