package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// ms formats a duration in milliseconds, to two significant decimals
// below 10 ms.
func ms(d time.Duration) string {
	v := d.Seconds() * 1000
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f ms", v)
	case v < 100:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

// si formats a count per second: 312k, 1.25M.
func si(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.1f", v)
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

func perDelivery(d time.Duration, n int64) float64 {
	if n == 0 {
		return 0
	}
	return float64(d) / float64(n) / 1e3
}

// summary is a run on one line.
func (r *Result) summary() string {
	s := fmt.Sprintf("posts %d/%d (%s/s) deliveries %d/%d (%s/s) p50 %s p90 %s p99 %s max %s (read p99 %s) lost %d dup %d ooo %d dropped %d resumed %d",
		r.Accepted, r.Attempted, si(r.PostsPerSec), r.Deliveries, r.Expected, si(r.DeliveriesPerSec),
		ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max), ms(r.ReadP99), r.Lost, r.Duplicated, r.OutOfOrder, r.Dropped, r.Resumed)
	if r.RSSIdle > 0 {
		s += fmt.Sprintf(" cpu %.2fµs/delivery (%.0f%%) rss/idle-stream %.1fKB", float64(r.CPUPerDelivery)/1e3, r.ServerCPUPercent, r.RSSPerIdleStream/1024)
	}
	s += fmt.Sprintf(" tool-cpu %.0f%% other-cpu %.0f%%", r.ToolCPUPercent, r.OtherCPUPercent)
	if r.Stalled {
		s += " STALLED"
	}
	if r.Unrecovered > 0 {
		s += fmt.Sprintf(" unrecovered %d", r.Unrecovered)
	}
	return s
}

// writeReport prints one run for a person.
func (r *Result) writeReport(w io.Writer) {
	rate := "max rate"
	if r.Rate > 0 {
		rate = fmt.Sprintf("%g posts/s", r.Rate)
	}
	fmt.Fprintf(w, "target       %s, room %s, %d streams (up in %.1fs), %s\n", r.Target, r.Room, r.Streams, r.ConnectTime.Seconds(), rate)
	fmt.Fprintf(w, "posts        %d accepted of %d sent, %d failed: %s posts/s; post round trip p50 %s, p99 %s\n",
		r.Accepted, r.Attempted, r.PostErrors, si(r.PostsPerSec), ms(r.PostP50), ms(r.PostP99))
	fmt.Fprintf(w, "deliveries   %d of %d in %.2fs: %s deliveries/s\n", r.Deliveries, r.Expected, r.Window.Seconds(), si(r.DeliveriesPerSec))
	fmt.Fprintf(w, "latency      p50 %s, p90 %s, p99 %s, max %s (post sent → event in the stream's socket)\n", ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max))
	fmt.Fprintf(w, "             p50 %s, p99 %s, max %s (post sent → event read by the tool)\n", ms(r.ReadP50), ms(r.ReadP99), ms(r.ReadMax))
	fmt.Fprintf(w, "correctness  lost %d (%d streams incomplete), duplicated %d, out of order %d, foreign %d; streams dropped %d, resumed %d",
		r.Lost, r.IncompleteStreams, r.Duplicated, r.OutOfOrder, r.Foreign, r.Dropped, r.Resumed)
	if r.Unrecovered > 0 {
		fmt.Fprintf(w, ", unrecovered %d", r.Unrecovered)
	}
	if r.Stalled {
		fmt.Fprint(w, "; deliveries STALLED before all arrived")
	}
	fmt.Fprintln(w)
	if r.RSSIdle > 0 {
		fmt.Fprintf(w, "server       CPU %.2fs (%.0f%% of a core) = %.2f µs/delivery; RSS %s before streams, %s idle (%.1f KB/stream), %s at the end\n",
			r.ServerCPU.Seconds(), r.ServerCPUPercent, float64(r.CPUPerDelivery)/1e3,
			mb(r.RSSBefore), mb(r.RSSIdle), r.RSSPerIdleStream/1024, mb(r.RSSAfter))
	}
	fmt.Fprintf(w, "tool         CPU %.2fs (%.0f%% of a core) = %.2f µs/delivery\n", r.ToolCPU.Seconds(), r.ToolCPUPercent, perDelivery(r.ToolCPU, r.Deliveries))
	if r.OtherCPUPercent > 0 {
		fmt.Fprintf(w, "others       %.0f%% of a core used by other processes meanwhile\n", r.OtherCPUPercent)
	}
	for _, e := range r.FirstErrors {
		fmt.Fprintf(w, "error        %s\n", e)
	}
}

// row is one line of the comparison table.
type row struct {
	scen  string
	label string
	goal  string
	// value gives a run's number; agg combines the runs (median, or max
	// for counts that must be zero in every run).
	value  func(*Result) float64
	agg    func([]float64) float64
	format func(float64) string
	lower  bool               // lower is better
	meets  func(float64) bool // the goal, nil for information only
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func maxOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return slices.Max(v)
}

func dur(f func(*Result) time.Duration) func(*Result) float64 {
	return func(r *Result) float64 { return float64(f(r)) }
}

func fmtMS(v float64) string  { return ms(time.Duration(v)) }
func fmtSI(v float64) string  { return si(v) }
func fmtInt(v float64) string { return fmt.Sprintf("%.0f", v) }

func p50(r *Result) time.Duration     { return r.P50 }
func p99(r *Result) time.Duration     { return r.P99 }
func pmax(r *Result) time.Duration    { return r.Max }
func readP99(r *Result) time.Duration { return r.ReadP99 }
func cpuPer(r *Result) time.Duration  { return r.CPUPerDelivery }

func wrong(r *Result) float64 { return float64(r.Lost + r.Duplicated + r.OutOfOrder) }
func isZero(v float64) bool   { return v == 0 }

func acceptedShare(r *Result) float64 {
	if r.Attempted == 0 {
		return 0
	}
	return 100 * float64(r.Accepted) / float64(r.Attempted)
}

func fmtPct(v float64) string { return fmt.Sprintf("%.0f%%", v) }
func fmtKB(v float64) string  { return fmt.Sprintf("%.1f KB", v/1024) }
func fmtUS(v float64) string  { return fmt.Sprintf("%.2f µs", v/1e3) }

const lostLabel = "lost + duplicated + out of order (worst run)"

var rows = []row{
	{"10k", "latency p50", "", dur(p50), median, fmtMS, true, nil},
	{"10k", "latency p99", "≤ 150 ms", dur(p99), median, fmtMS, true, func(v float64) bool { return v <= float64(150*time.Millisecond) }},
	{"10k", "latency max", "", dur(pmax), median, fmtMS, true, nil},
	{"10k", "latency p99, as read by the tool", "", dur(readP99), median, fmtMS, true, nil},
	{"10k", "posts/s accepted", "10 (keeps up)", func(r *Result) float64 { return r.PostsPerSec }, median, fmtSI, false, func(v float64) bool { return v >= 9.9 }},
	{"10k", lostLabel, "0", wrong, maxOf, fmtInt, true, isZero},
	{"10k", "RSS per idle stream", "≤ 24 KB (16)", func(r *Result) float64 { return r.RSSPerIdleStream }, median, fmtKB, true, func(v float64) bool { return v <= 24*1024 }},
	{"5k", "deliveries/s", "≥ 300k", func(r *Result) float64 { return r.DeliveriesPerSec }, median, fmtSI, false, func(v float64) bool { return v >= 300e3 }},
	{"5k", "latency p99", "", dur(p99), median, fmtMS, true, nil},
	{"5k", "posts answered with success", "", acceptedShare, median, fmtPct, false, nil},
	{"5k", lostLabel, "0", wrong, maxOf, fmtInt, true, isZero},
	{"5k", "streams dropped as too slow (worst run; each must resume)", "", func(r *Result) float64 { return float64(r.Dropped) }, maxOf, fmtInt, true, nil},
	{"max", "posts/s accepted", "≥ 3,000", func(r *Result) float64 { return r.PostsPerSec }, median, fmtSI, false, func(v float64) bool { return v >= 3000 }},
	{"max", "deliveries/s", "", func(r *Result) float64 { return r.DeliveriesPerSec }, median, fmtSI, false, nil},
	{"max", "latency p99", "", dur(p99), median, fmtMS, true, nil},
	{"max", lostLabel, "0", wrong, maxOf, fmtInt, true, isZero},
	{"cpu", "server CPU per delivery", "≤ 10 µs", dur(cpuPer), median, fmtUS, true, func(v float64) bool { return v <= 10e3 }},
	{"cpu", "latency p99", "", dur(p99), median, fmtMS, true, nil},
}

// change is how far the chat's figure is from the base's, in %: "+3.1%"
// is 3.1% higher (worse where lower is better), "" when the base is 0.
func change(chat, base float64) string {
	switch {
	case chat == base:
		return "0%"
	case base == 0:
		return ""
	}
	return fmt.Sprintf("%+.1f%%", 100*(chat-base)/base)
}

// writeTable writes the comparison as markdown: a column per target,
// whether the chat meets the goal, and, with both targets, whether
// the chat is ahead of Centrifugo and how far it moved from the base.
func writeTable(w io.Writer, c compareConfig, results map[string]map[string][]*Result) {
	names := map[string]string{targetChat: "sessionchat", targetBase: "sessionchat (base)", targetCentrifugo: "Centrifugo v6.9.1"}
	fmt.Fprintf(w, "Medians of %d run(s) (correctness: worst run). Machine: %s.\n\n", c.Runs, machine())
	fmt.Fprint(w, "| scenario | measure | goal |")
	for _, t := range c.Targets {
		fmt.Fprintf(w, " %s |", names[t])
	}
	both := slices.Contains(c.Targets, targetChat) && slices.Contains(c.Targets, targetCentrifugo)
	vsBase := slices.Contains(c.Targets, targetChat) && slices.Contains(c.Targets, targetBase)
	fmt.Fprint(w, " goal met |")
	if both {
		fmt.Fprint(w, " ahead |")
	}
	if vsBase {
		fmt.Fprint(w, " chat vs base |")
	}
	fmt.Fprint(w, "\n|---|---|---|")
	for range c.Targets {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprint(w, "---|")
	if both {
		fmt.Fprint(w, "---|")
	}
	if vsBase {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprintln(w)
	for _, sc := range c.Scenarios {
		for _, r := range rows {
			if r.scen != sc.Name {
				continue
			}
			agg := map[string]float64{}
			fmt.Fprintf(w, "| %s | %s | %s |", sc.Title, r.label, r.goal)
			for _, t := range c.Targets {
				var vals []float64
				for _, res := range results[sc.Name][t] {
					vals = append(vals, r.value(res))
				}
				agg[t] = r.agg(vals)
				fmt.Fprintf(w, " %s |", r.format(agg[t]))
			}
			met := ""
			if v, ok := agg[targetChat]; ok && r.meets != nil {
				met = map[bool]string{true: "yes", false: "**no**"}[r.meets(v)]
			}
			fmt.Fprintf(w, " %s |", met)
			if both {
				ours, theirs := agg[targetChat], agg[targetCentrifugo]
				ahead := ours > theirs
				if r.lower {
					ahead = ours < theirs
				}
				mark := map[bool]string{true: "yes", false: "**no**"}[ahead]
				if ours == theirs {
					mark = "tie"
				}
				fmt.Fprintf(w, " %s |", mark)
			}
			if vsBase {
				fmt.Fprintf(w, " %s |", change(agg[targetChat], agg[targetBase]))
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "CPU during the measured window, median % of one core: server / tool / other processes:")
	for _, sc := range c.Scenarios {
		var parts []string
		for _, t := range c.Targets {
			var srv, tool, other []float64
			for _, res := range results[sc.Name][t] {
				srv = append(srv, res.ServerCPUPercent)
				tool = append(tool, res.ToolCPUPercent)
				other = append(other, res.OtherCPUPercent)
			}
			parts = append(parts, fmt.Sprintf("%s %.0f / %.0f / %.0f", names[t], median(srv), median(tool), median(other)))
		}
		fmt.Fprintf(w, "- %s: %s\n", sc.Title, strings.Join(parts, "; "))
	}
}
