package chat_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sessionchat/sessionchat/chat"
)

func TestParseRoom(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"lobby", true},
		{"Game_42-b", true},
		{strings.Repeat("a", 64), true},
		{"", false},
		{strings.Repeat("a", 65), false},
		{"with space", false},
		{"a/b", false},
		{"..", false},
		{"café", false},
		{"a%20b", false},
	}
	for _, tt := range tests {
		got, err := chat.ParseRoom(tt.in)
		if tt.ok && (err != nil || string(got) != tt.in) {
			t.Errorf("ParseRoom(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.in)
		}
		if !tt.ok && !errors.Is(err, chat.ErrInvalid) {
			t.Errorf("ParseRoom(%q) error = %v, want ErrInvalid", tt.in, err)
		}
	}
}

func TestParseName(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"alice", "alice", true},
		{"  bob  ", "bob", true},
		{"山田太郎", "山田太郎", true},
		{strings.Repeat("é", 32), strings.Repeat("é", 32), true},
		{strings.Repeat("é", 33), "", false},
		{"", "", false},
		{"   ", "", false},
		{"a\x00b", "", false},
		{"line\nbreak", "", false},
		{"\xff", "", false},
	}
	for _, tt := range tests {
		got, err := chat.ParseName(tt.in)
		if tt.ok && (err != nil || got != tt.want) {
			t.Errorf("ParseName(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
		}
		if !tt.ok && !errors.Is(err, chat.ErrInvalid) {
			t.Errorf("ParseName(%q) error = %v, want ErrInvalid", tt.in, err)
		}
	}
}

func TestParseText(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"hi", true},
		{"  keeps its spaces\n", true},
		{strings.Repeat("字", 2000), true},
		{strings.Repeat("👋", 2000), true},
		{strings.Repeat("a", 2001), false},
		{strings.Repeat("👋", 2049), false},
		{"", false},
		{" \n\t", false},
		{"bad \xc3\x28 utf8", false},
	}
	for _, tt := range tests {
		got, err := chat.ParseText(tt.in)
		if tt.ok && (err != nil || got != tt.in) {
			t.Errorf("ParseText(%.20q…) = %.20q…, %v; want it unchanged", tt.in, got, err)
		}
		if !tt.ok && !errors.Is(err, chat.ErrInvalid) {
			t.Errorf("ParseText(%.20q…) error = %v, want ErrInvalid", tt.in, err)
		}
	}
}

func TestIDRoundTrip(t *testing.T) {
	for _, id := range []chat.ID{{Epoch: 1, Seq: 1}, {Epoch: 1764161171123, Seq: 42}, {Epoch: 1<<64 - 1, Seq: 1<<64 - 1}} {
		got, ok := chat.ParseID(id.String())
		if !ok || got != id {
			t.Errorf("ParseID(%q) = %v, %v; want %v, true", id.String(), got, ok, id)
		}
	}
	for _, s := range []string{"", "-", "abc", "1-", "-1", "0-1", "1-0", "zz-x", "1-1-1", "1-+1", "A-1", "01-1", "1-01", strings.Repeat("1", 70) + "-1"} {
		if id, ok := chat.ParseID(s); ok {
			t.Errorf("ParseID(%q) = %v, true; want false", s, id)
		}
	}
}

func TestIDAfter(t *testing.T) {
	a, b, c := chat.ID{Epoch: 5, Seq: 9}, chat.ID{Epoch: 5, Seq: 10}, chat.ID{Epoch: 6, Seq: 1}
	if !b.After(a) || a.After(b) || !c.After(b) || b.After(c) || a.After(a) {
		t.Errorf("After is not the order (epoch, seq): a=%v b=%v c=%v", a, b, c)
	}
	if !a.After(chat.ID{}) {
		t.Errorf("%v is not after the zero id", a)
	}
}
