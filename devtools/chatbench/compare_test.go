package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestWriteTableChatAgainstBase(t *testing.T) {
	cpu := scenarios[3]
	if cpu.Name != "cpu" {
		t.Fatalf("scenarios[3] is %q, want cpu", cpu.Name)
	}
	c := compareConfig{Scenarios: []scenario{cpu}, Targets: []string{targetChat, targetBase}, Runs: 3}
	runs := func(us ...float64) []*Result {
		var out []*Result
		for _, v := range us {
			out = append(out, &Result{CPUPerDelivery: time.Duration(v * 1e3)})
		}
		return out
	}
	results := map[string]map[string][]*Result{"cpu": {
		targetChat: runs(9, 11, 10),  // median 10 µs
		targetBase: runs(8, 7.5, 30), // median 8 µs
	}}
	var out bytes.Buffer
	writeTable(&out, c, results)
	for _, want := range []string{
		"| sessionchat | sessionchat (base) | goal met | chat vs base |",
		"| server CPU per delivery | ≤ 10 µs | 10.00 µs | 8.00 µs | yes | +25.0% |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "ahead") {
		t.Errorf("table without Centrifugo has an ahead column:\n%s", out.String())
	}
}

func TestChange(t *testing.T) {
	for _, tc := range []struct {
		chat, base float64
		want       string
	}{{10, 8, "+25.0%"}, {6, 8, "-25.0%"}, {0, 0, "0%"}, {3, 3, "0%"}, {3, 0, ""}} {
		if got := change(tc.chat, tc.base); got != tc.want {
			t.Errorf("change(%g, %g) = %q, want %q", tc.chat, tc.base, got, tc.want)
		}
	}
}

func TestCompareRefusesBaseWithoutBinary(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    compareConfig
		want string
	}{
		{"no -base-bin", compareConfig{Targets: []string{targetBase}}, "-base-bin"},
		{"missing file", compareConfig{Targets: []string{targetBase}, BaseBin: filepath.Join(t.TempDir(), "none")}, "not a file"},
		{"twice", compareConfig{Targets: []string{targetBase, targetBase}, BaseBin: "/bin/sh"}, "twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var progress bytes.Buffer
			tc.c.Progress = &progress
			err := compare(t.Context(), tc.c, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("compare: %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// The chat and the base, here one binary built from ./cmd/chat, run the
// same scenario in turns, and the table has a column for each.
func TestCompareChatAndBase(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ./cmd/chat and starts it four times")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build ./cmd/chat")
	}
	bin := filepath.Join(t.TempDir(), "chat")
	build := exec.CommandContext(t.Context(), goTool, "build", "-o", bin, "../../cmd/chat")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ../../cmd/chat: %v\n%s", err, out)
	}
	tiny := scenario{Name: "cpu", Title: "20 streams, 50 posts/s", Streams: 20, Rate: 50, Duration: 200 * time.Millisecond}
	var progress bytes.Buffer
	var out bytes.Buffer
	err = compare(t.Context(), compareConfig{
		Scenarios: []scenario{tiny},
		Targets:   []string{targetChat, targetBase},
		Runs:      2,
		ChatBin:   bin,
		BaseBin:   bin,
		Progress:  &progress,
	}, &out)
	if err != nil {
		t.Fatalf("compare: %v\nprogress:\n%s", err, progress.String())
	}
	if !strings.Contains(out.String(), "| sessionchat | sessionchat (base) | goal met | chat vs base |") {
		t.Errorf("table has no chat and base columns:\n%s", out.String())
	}
	// Every run delivered everything, and the second run went base first.
	runLine := regexp.MustCompile(`(?m)^cpu run (\d) (\w+) +posts (\d+)/(\d+) .* deliveries (\d+)/(\d+) .* lost 0 dup 0 ooo 0 `)
	var order []string
	for _, m := range runLine.FindAllStringSubmatch(out.String(), -1) {
		order = append(order, m[1]+" "+m[2])
		if m[3] == "0" || m[3] != m[4] || m[5] != m[6] {
			t.Errorf("run %s %s: posts %s/%s, deliveries %s/%s; want every post accepted and delivered", m[1], m[2], m[3], m[4], m[5], m[6])
		}
	}
	if got, want := strings.Join(order, ", "), "1 chat, 1 base, 2 base, 2 chat"; got != want {
		t.Errorf("runs (complete ones) in the order %q, want %q:\n%s", got, want, out.String())
	}
}
