package chat_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/sessionchat/sessionchat/chat"
)

// roomRule is the documented room-name rule, said independently of
// ParseRoom: 1 to 64 characters from a–z, A–Z, 0–9, '-' and '_'.
var roomRule = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// ParseRoom accepts exactly the names the rule allows, returns them
// unchanged, and says why it rejects the others.
func FuzzParseRoom(f *testing.F) {
	for _, s := range []string{"lobby", "Game_42-b", "", "a b", "a/b", "../x", "é", "room\x00", strings.Repeat("z", 64), strings.Repeat("z", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		room, err := chat.ParseRoom(s)
		if want := roomRule.MatchString(s); (err == nil) != want {
			t.Fatalf("ParseRoom(%q) error = %v, want accepted = %v", s, err, want)
		}
		if err != nil {
			if !errors.Is(err, chat.ErrInvalid) {
				t.Fatalf("ParseRoom(%q) error %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		if string(room) != s {
			t.Fatalf("ParseRoom(%q) = %q, want the name unchanged", s, room)
		}
		if again, err := chat.ParseRoom(string(room)); err != nil || again != room {
			t.Fatalf("ParseRoom(ParseRoom(%q)) = %q, %v; want it to round-trip", s, again, err)
		}
	})
}

// canonicalID is the form ID.String writes: base-36 epoch and decimal
// sequence, both non-zero, lower case, without leading zeros.
var canonicalID = regexp.MustCompile(`^[1-9a-z][0-9a-z]*-[1-9][0-9]*$`)

// Whatever ParseID accepts stands for one ID that survives String and
// ParseID again; the String form of an ID parses back to it.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1-1", "mwxnz1h2-1", "3w5e11264sgsf-18446744073709551615", "3w5e11264sgsg-1", "1-18446744073709551616",
		"0-1", "1-0", "-1", "1-", "-", "", "1-1-1", "+1-1", "1-+1", " 1-1", "A-1", "01-01", "1_0-1"} {
		f.Add(s)
	}
	f.Add(strings.Repeat("1", 63) + "-1")
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := chat.ParseID(s)
		var text chat.ID
		textErr := text.UnmarshalText([]byte(s))
		switch {
		case s == "" && (textErr != nil || !text.IsZero()):
			t.Fatalf("UnmarshalText(%q) = %v, %v; want the zero ID", s, text, textErr)
		case s != "" && (textErr == nil) != ok:
			t.Fatalf("UnmarshalText(%q) error %v, ParseID ok = %v; want them to agree", s, textErr, ok)
		case s != "" && ok && text != id:
			t.Fatalf("UnmarshalText(%q) = %v, ParseID = %v", s, text, id)
		}
		if !ok {
			if id != (chat.ID{}) {
				t.Fatalf("ParseID(%q) = %v, false; want the zero ID with false", s, id)
			}
			if canonicalID.MatchString(s) && len(s) <= 64 && !overflows(s) {
				t.Fatalf("ParseID(%q) rejects a canonical id", s)
			}
			return
		}
		if id.IsZero() || id.Epoch == 0 || id.Seq == 0 {
			t.Fatalf("ParseID(%q) = %+v, true; want both parts non-zero", s, id)
		}
		if len(s) > 64 {
			t.Fatalf("ParseID accepted a %d-byte cursor", len(s))
		}
		str := id.String()
		if !canonicalID.MatchString(str) {
			t.Fatalf("ParseID(%q).String() = %q, not in canonical form", s, str)
		}
		if again, ok := chat.ParseID(str); !ok || again != id {
			t.Fatalf("ParseID(%q) = %v; ParseID(%q) = %v, %v; want a round trip", s, id, str, again, ok)
		}
		// Only the canonical spelling is accepted: it comes back as it was.
		if str != s {
			t.Fatalf("ParseID(%q).String() = %q, want the input back", s, str)
		}
		if b, _ := id.MarshalText(); string(b) != str {
			t.Fatalf("MarshalText = %q, String = %q", b, str)
		}
	})
}

// overflows reports whether a canonical id has a part over 64 bits.
func overflows(s string) bool {
	e, q, _ := strings.Cut(s, "-")
	return len(e) > len("3w5e11264sgsf") || len(e) == len("3w5e11264sgsf") && e > "3w5e11264sgsf" ||
		len(q) > len("18446744073709551615") || len(q) == len("18446744073709551615") && q > "18446744073709551615"
}
