package chat

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Authors. A message carries the tag of its author (Message.Author): an
// opaque string derived from a key only the author holds (a browser's
// random cookie, a token's subject), different in every room, so that a
// page can tell "mine" from "someone else with my name" and a tag seen in
// one room says nothing about its author in another. The key is never
// stored or sent; only the tag is.

// TagLen is the length of an author tag: 12 base64url characters, 72
// bits of an HMAC-SHA256.
const TagLen = 12

// MaxAuthorKey bounds an author key's length in bytes.
const MaxAuthorKey = 128

// ErrNameTaken marks a post under a name another author has used in the
// room; see NameTakenError.
var ErrNameTaken = errors.New("someone else already uses that name in this room")

// NameTakenError is the error of a post whose name another author (a
// different tag) has used in the room. Suggestion is a free variant of
// the name, such as "bob (2)".
type NameTakenError struct {
	Name       string
	Suggestion string
}

func (e *NameTakenError) Error() string {
	return fmt.Sprintf("someone else already posts as %q in this room: post as %q, or choose another name", e.Name, e.Suggestion)
}

func (e *NameTakenError) Unwrap() error { return ErrNameTaken }

// Author says who posts or is present, for tags and the name rule.
type Author struct {
	// Key is the author's own secret: a browser's random key, a token's
	// subject. Empty: no tag (an anonymous client).
	Key string
	// Unique refuses a name another author has used in the room with
	// a NameTakenError (public rooms; in private rooms the token names
	// its holder).
	Unique bool
}

// AuthorTag is the tag of the author whose key is key in room:
// base64url(HMAC-SHA256(secret, room + "\x00" + key)), cut to TagLen.
// Every instance with the same host secret derives the same tag. An
// empty key has the empty tag.
func (s *Service) AuthorTag(room Room, key string) string {
	if key == "" {
		return ""
	}
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(room))
	m.Write([]byte{0})
	m.Write([]byte(key))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))[:TagLen]
}

// PostAs is Post by author a: the message carries a's tag, and with
// a.Unique a name another author has used in the room's history is
// refused with a NameTakenError (nothing is stored). Messages without a
// tag (anonymous clients, the original app's) claim no name.
func (s *Service) PostAs(ctx context.Context, room Room, a Author, username, text string) (Message, error) {
	return s.post(ctx, room, a, username, text)
}

// nameFree checks that no author but tag has posted as name in room.
// The room's post lock is held, so that two authors posting one new name
// at once cannot both take it on this instance.
func (s *Service) nameFree(ctx context.Context, room Room, name, tag string) error {
	msgs, err := s.History(ctx, room)
	if err != nil {
		return err
	}
	taken := make(map[string]bool)
	for _, m := range msgs {
		if m.Author != "" && m.Author != tag {
			taken[strings.ToLower(m.Username)] = true
		}
	}
	if !taken[strings.ToLower(name)] {
		return nil
	}
	for i := 2; ; i++ {
		if c := numbered(name, i); !taken[strings.ToLower(c)] {
			return &NameTakenError{Name: name, Suggestion: c}
		}
	}
}

// numbered is name with " (i)" after it, the name shortened to keep
// within the name's limits.
func numbered(name string, i int) string {
	suffix := " (" + strconv.Itoa(i) + ")"
	for utf8.RuneCountInString(name)+len(suffix) > MaxNameChars || len(name)+len(suffix) > MaxNameBytes {
		_, n := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-n]
	}
	return strings.TrimSpace(name) + suffix
}
