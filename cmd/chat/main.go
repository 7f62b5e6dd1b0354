// Command chat serves the chat: pages, the JSON API and the per-room event
// streams. Configuration comes from CHAT_* environment variables.
//
// "chat token …" mints a token for private rooms instead (token.go);
// "chat help" prints the usage.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/kelseyhightower/envconfig"
)

func main() {
	os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr))
}

// cli runs the command line args (without the program's name) and
// returns the exit status: 0, 1 when serving fails, 2 for a usage error.
func cli(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	case "token":
		if err := runToken(args, os.Getenv, stdout, stderr); err != nil {
			fmt.Fprintln(stderr, "chat token:", err)
			return 2
		}
		return 0
	case "serve":
		if len(args) > 0 {
			if isHelp(args[0]) {
				usage(stdout)
				return 0
			}
			fmt.Fprintf(stderr, "chat serve: unexpected argument %q (settings come from the environment)\n\n", args[0])
			usage(stderr)
			return 2
		}
		return serveUntilSignal(stdout, stderr)
	default:
		fmt.Fprintf(stderr, "chat: unknown command %q\n\n", cmd)
		usage(stderr)
		return 2
	}
}

func isHelp(arg string) bool {
	switch arg {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}

// serveUntilSignal runs the server until SIGTERM or SIGINT.
func serveUntilSignal(stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := loadConfig()
	if err == nil {
		err = run(ctx, cfg, stdout, nil)
	}
	if err != nil {
		fmt.Fprintln(stderr, "chat:", err)
		return 1
	}
	return 0
}

// settingsFormat lists each setting with its default, as envconfig
// reads them from Config's tags.
const settingsFormat = `{{range .}}  {{usage_key .}}	{{with usage_default .}}{{.}}{{else}}(none){{end}}
{{end}}`

// usage prints the commands, every setting with its default (from
// Config's tags, so the list cannot drift from what is read) and where
// the manual is.
func usage(w io.Writer) {
	fmt.Fprint(w, `chat serves a real-time chat: pages, a JSON API and per-room event streams.

Usage:
  chat [serve]     serve the chat (the default), configured by the environment
  chat token ...   print a token for private rooms ("chat token -h" for its flags)
  chat help        print this help

Settings (environment variable, default):
`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if err := envconfig.Usagef("chat", &Config{}, tw, settingsFormat); err != nil {
		fmt.Fprintf(tw, "  (the settings cannot be listed: %v)\n", err)
	}
	tw.Flush()
	fmt.Fprint(w, `
MOMENTO_API_KEY is also read without the CHAT_ prefix. What each setting
means, and its limits, is in docs/configuration.md.
`)
}
