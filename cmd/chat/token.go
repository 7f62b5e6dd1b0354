package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sessionchat/sessionchat/auth"
	"github.com/sessionchat/sessionchat/chat"
)

// runToken is the token subcommand: it prints a token for private rooms,
// signed with CHAT_AUTH_SECRET (or -secret), for tests and for site back
// ends to copy:
//
//	chat token -name alice -read lobby,game-42 -write game-42 -ttl 1h
func runToken(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chat token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: chat token -name NAME [-read ROOMS] [-write ROOMS] [-host ROOMS] [-ttl 1h] [-sub ID]")
		fmt.Fprintln(stderr, "Prints a token for private rooms, signed with $CHAT_AUTH_SECRET.")
		fmt.Fprintln(stderr, "ROOMS is a comma-separated list of room names, * (every room) or prefixes ending in * (game-*).")
		fs.PrintDefaults()
	}
	name := fs.String("name", "", "display name the holder posts as (required)")
	read := fs.String("read", "", "rooms the holder may read")
	write := fs.String("write", "", "rooms the holder may post to (write does not imply read)")
	host := fs.String("host", "", "rooms the holder is host of: may start, moderate, extend and end them")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	sub := fs.String("sub", "", "subject: your site's id for the holder (optional)")
	secret := fs.String("secret", "", "signing secret instead of $CHAT_AUTH_SECRET (visible to ps and shell history)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *secret == "" {
		*secret = getenv("CHAT_AUTH_SECRET")
	}
	if *secret == "" {
		return errors.New("CHAT_AUTH_SECRET is not set (or give -secret)")
	}
	if len(*secret) < auth.MinSecretLen {
		return fmt.Errorf("CHAT_AUTH_SECRET: must be at least %d bytes, got %d", auth.MinSecretLen, len(*secret))
	}

	n, err := chat.ParseName(*name)
	if err != nil {
		return fmt.Errorf("-name: %w", err)
	}
	var rooms auth.Rooms
	if rooms.Read, err = parsePatterns(*read); err != nil {
		return fmt.Errorf("-read: %w", err)
	}
	if rooms.Write, err = parsePatterns(*write); err != nil {
		return fmt.Errorf("-write: %w", err)
	}
	if rooms.Host, err = parsePatterns(*host); err != nil {
		return fmt.Errorf("-host: %w", err)
	}
	if len(rooms.Read)+len(rooms.Write)+len(rooms.Host) == 0 {
		return errors.New("give -read, -write or -host: a token for no room lets its holder in nowhere")
	}
	if *ttl <= 0 {
		return fmt.Errorf("-ttl %s: must be positive", *ttl)
	}

	now := time.Now()
	tok, err := auth.Mint([]byte(*secret), auth.Claims{
		Name:  n,
		Rooms: rooms,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   *sub,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(*ttl)),
		},
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

// parsePatterns splits a comma-separated list of room patterns: room
// names, "*", or a room name followed by "*" for a prefix.
func parsePatterns(s string) ([]string, error) {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if p != "*" {
			if _, err := chat.ParseRoom(strings.TrimSuffix(p, "*")); err != nil {
				return nil, fmt.Errorf("%q is not a room name, * or a prefix ending in *: %w", p, err)
			}
		}
		out = append(out, p)
	}
	return out, nil
}
