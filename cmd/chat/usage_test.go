package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestHelpPrintsUsage(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-help"}, {"help"}, {"serve", "-h"}, {"serve", "--help"}} {
		var stdout, stderr bytes.Buffer
		if code := cli(args, &stdout, &stderr); code != 0 {
			t.Errorf("chat %s: exit %d, want 0", strings.Join(args, " "), code)
		}
		if stderr.Len() > 0 {
			t.Errorf("chat %s: stderr %q, want nothing", strings.Join(args, " "), stderr.String())
		}
		checkUsage(t, "chat "+strings.Join(args, " "), stdout.String())
	}
}

func TestUnknownCommandIsAUsageError(t *testing.T) {
	for _, args := range [][]string{{"bogus"}, {"-x"}, {"serve", "now"}} {
		var stdout, stderr bytes.Buffer
		if code := cli(args, &stdout, &stderr); code != 2 {
			t.Errorf("chat %s: exit %d, want 2", strings.Join(args, " "), code)
		}
		if stdout.Len() > 0 {
			t.Errorf("chat %s: stdout %q, want nothing", strings.Join(args, " "), stdout.String())
		}
		if !strings.Contains(stderr.String(), args[len(args)-1]) {
			t.Errorf("chat %s: stderr does not name %q", strings.Join(args, " "), args[len(args)-1])
		}
		checkUsage(t, "chat "+strings.Join(args, " "), stderr.String())
	}
}

// checkUsage wants the commands, every setting Config reads with its
// default, and the manual's address in out.
func checkUsage(t *testing.T, what, out string) {
	t.Helper()
	for _, want := range []string{"Usage:", "chat [serve]", "chat token", "chat help", "docs/configuration.md"} {
		if !strings.Contains(out, want) {
			t.Errorf("%s: usage lacks %q:\n%s", what, want, out)
		}
	}
	lines := strings.Split(out, "\n")
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		key := "CHAT_" + f.Tag.Get("envconfig")
		want := f.Tag.Get("default")
		if want == "" {
			want = "(none)"
		}
		found := false
		for _, l := range lines {
			if fields := strings.Fields(l); len(fields) == 2 && fields[0] == key {
				found = true
				if fields[1] != want {
					t.Errorf("%s: %s default %q, want %q", what, key, fields[1], want)
				}
			}
		}
		if !found {
			t.Errorf("%s: usage does not list %s", what, key)
		}
	}
}
