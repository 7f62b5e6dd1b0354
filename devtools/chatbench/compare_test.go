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

// Every scenario's chat runs with no cap on streams per client or per
// room (all streams come from loopback, into one room) and no post rate
// limit, whatever its store.
func TestChatEnvLiftsStreamCaps(t *testing.T) {
	for _, extra := range [][]string{nil, momentoEnv("127.0.0.1:9", 0)} {
		env := map[string]string{}
		for _, kv := range chatEnv(8080, extra) {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v // the last wins, as in os/exec
		}
		for k, want := range map[string]string{
			"CHAT_MAX_STREAMS_PER_CLIENT": "0",
			"CHAT_MAX_STREAMS_PER_ROOM":   "0",
			"CHAT_POST_RATE":              "0",
			"CHAT_ADDR":                   "127.0.0.1:8080",
		} {
			if env[k] != want {
				t.Errorf("extra %q: %s=%q, want %q", extra, k, env[k], want)
			}
		}
		if extra != nil && (env["CHAT_STORE"] != "momento" || env["CHAT_MOMENTO_ENDPOINT"] != "127.0.0.1:9") {
			t.Errorf("momento env: CHAT_STORE=%q CHAT_MOMENTO_ENDPOINT=%q, want momento on 127.0.0.1:9", env["CHAT_STORE"], env["CHAT_MOMENTO_ENDPOINT"])
		}
	}
}

func TestPickScenarios(t *testing.T) {
	all, err := pickScenarios("all")
	if err != nil || len(all) != 4 || all[3].Name != "cpu" {
		t.Errorf("all: %d scenarios (%v), want the four classic ones", len(all), err)
	}
	got, err := pickScenarios("100k,storm,momento,rolling")
	if err != nil || len(got) != 4 || got[0].Streams != 100_000 || got[1].Kind != kindStorm || got[2].Kind != kindMomento || got[3].Kind != kindRolling {
		t.Errorf("100k,storm,momento,rolling: %+v, %v", got, err)
	}
	if _, err := pickScenarios("10k,nope"); err == nil || !strings.Contains(err.Error(), "rolling") {
		t.Errorf("unknown scenario: %v, want an error listing the scenarios", err)
	}
}

func TestWriteTableMomentoRatios(t *testing.T) {
	sc, _ := pickScenarios("momento")
	run := &Result{CrossP99: 150 * time.Millisecond, CPUPerDelivery: 12 * time.Microsecond,
		Baseline: &Result{P99: 100 * time.Millisecond, CPUPerDelivery: 10 * time.Microsecond}}
	var out bytes.Buffer
	writeTable(&out, compareConfig{Scenarios: sc, Targets: []string{targetChat}, Runs: 1},
		map[string]map[string][]*Result{"momento": {targetChat: {run}}})
	for _, want := range []string{
		"| cross-instance p99 ÷ memory p99 | ≤ 1.5× | 1.50× | yes |",
		"| CPU per delivery ÷ memory's | ≤ 1.2× | 1.20× | yes |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}
