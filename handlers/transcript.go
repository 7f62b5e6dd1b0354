package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sessionchat/sessionchat/chat"
)

// A room's transcript: its stored history as a file to keep, in plain
// text, JSON or Markdown, while the history exists (for an ended room,
// through its grace period). The format comes from the path's extension
// (.txt, .json, .md) or, without one, from Accept (plain text when it
// names none of them). It is served as an attachment, so that a browser
// downloads it, with the same permission as reading the room.

// transcriptFormat is one way of writing a transcript.
type transcriptFormat struct {
	ext, mediaType string
	write          func(b *bytes.Buffer, t transcript)
}

var transcriptFormats = []transcriptFormat{
	{".txt", "text/plain", writeText},
	{".json", "application/json", writeJSON},
	{".md", "text/markdown", writeMarkdown},
}

// transcript is what a transcript holds.
type transcript struct {
	State    chat.RoomState `json:"room"`
	Exported time.Time      `json:"exported"`
	Messages []chat.Message `json:"messages"`
}

// handleTranscript serves a room's transcript in the format of ext ("" =
// by Accept).
func handleTranscript(log *slog.Logger, svc *chat.Service, ext string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		room, err := roomParam(r)
		if err != nil {
			writeErrorPage(log, w, r, err)
			return
		}
		f := formatFor(ext, r.Header.Get("Accept"))
		if ext == "" {
			w.Header().Add("Vary", "Accept")
		}
		st, err := svc.State(r.Context(), room)
		if err != nil {
			writeErrorPage(log, w, r, err)
			return
		}
		msgs, err := svc.History(r.Context(), room)
		if err != nil {
			writeErrorPage(log, w, r, err)
			return
		}
		if len(msgs) == 0 && !st.Started() && !st.Locked {
			writeErrorPage(log, w, r, errNotFound) // no such room, or it has gone
			return
		}
		var b bytes.Buffer
		f.write(&b, transcript{State: st, Exported: svc.Now().UTC().Truncate(time.Second), Messages: msgs})
		h := w.Header()
		h.Set("Content-Type", f.mediaType+"; charset=utf-8")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": string(room) + "-transcript" + f.ext}))
		h.Set("Content-Length", strconv.Itoa(b.Len()))
		if h.Get("Cache-Control") == "" {
			h.Set("Cache-Control", "no-cache")
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b.Bytes())
	}
}

// formatFor picks the format of extension ext, or else the one accept
// prefers (by q, then by order), else plain text.
func formatFor(ext, accept string) transcriptFormat {
	for _, f := range transcriptFormats {
		if ext != "" && f.ext == ext {
			return f
		}
	}
	best, bestQ := transcriptFormats[0], 0.0
	for i, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil {
				continue
			}
		}
		// Earlier ranges win ties: a small nudge by position.
		q -= float64(i) * 1e-6
		for _, f := range transcriptFormats {
			if mt == f.mediaType && q > bestQ {
				best, bestQ = f, q
			}
		}
	}
	return best
}

// heading is the transcript's title: the room's, or its name.
func (t transcript) heading() string {
	if t.State.Title != "" {
		return t.State.Title
	}
	return string(t.State.Room)
}

// status says when the room ends or ended, if it has an end.
func (t transcript) status() string {
	switch {
	case !t.State.Started():
		return ""
	case t.State.Ended:
		return "ended " + t.State.Ends.UTC().Format(time.RFC3339)
	}
	return "ends " + t.State.Ends.UTC().Format(time.RFC3339)
}

const textTime = "2006-01-02 15:04:05Z07:00"

func writeText(b *bytes.Buffer, t transcript) {
	fmt.Fprintf(b, "%s\n", t.heading())
	fmt.Fprintf(b, "room: %s\n", t.State.Room)
	if s := t.status(); s != "" {
		fmt.Fprintf(b, "%s\n", s)
	}
	fmt.Fprintf(b, "exported %s, %d %s\n\n", t.Exported.Format(time.RFC3339), len(t.Messages), plural(len(t.Messages), "message", "messages"))
	for _, m := range t.Messages {
		when := ""
		if !m.Time.IsZero() {
			when = "[" + m.Time.UTC().Format(textTime) + "] "
		}
		// Continuation lines are indented, so that each message starts
		// a line of its own and no text passes for another message.
		text := strings.ReplaceAll(m.Text, "\n", "\n    ")
		fmt.Fprintf(b, "%s%s: %s\n", when, m.Username, text)
	}
}

func writeJSON(b *bytes.Buffer, t transcript) {
	if t.Messages == nil {
		t.Messages = []chat.Message{}
	}
	enc := json.NewEncoder(b)
	enc.SetIndent("", "  ")
	_ = enc.Encode(t) // a transcript always encodes
}

func writeMarkdown(b *bytes.Buffer, t transcript) {
	fmt.Fprintf(b, "# %s\n\n", markdownEscape(t.heading()))
	fmt.Fprintf(b, "Room `%s`", t.State.Room)
	if s := t.status(); s != "" {
		fmt.Fprintf(b, ", %s", s)
	}
	fmt.Fprintf(b, ". Exported %s, %d %s.\n\n", t.Exported.Format(time.RFC3339), len(t.Messages), plural(len(t.Messages), "message", "messages"))
	for _, m := range t.Messages {
		fmt.Fprintf(b, "- **%s**", markdownEscape(m.Username))
		if !m.Time.IsZero() {
			fmt.Fprintf(b, " (%s)", m.Time.UTC().Format(textTime))
		}
		// Lines of a message stay in its list item: hard breaks,
		// indented.
		lines := strings.Split(m.Text, "\n")
		for i := range lines {
			lines[i] = markdownEscape(lines[i])
		}
		fmt.Fprintf(b, ": %s\n", strings.Join(lines, "\\\n  "))
	}
}

// markdownPunct are the characters that could make text into markup
// (emphasis, code, links, HTML, tables, entities, headings): escaped with
// a backslash, which CommonMark allows before any ASCII punctuation.
var markdownPunct = []byte("\\`*_[]<>#|~&!")

func markdownEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if slices.Contains(markdownPunct, c) {
			b.WriteByte('\\')
		}
		if c == '\r' {
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
