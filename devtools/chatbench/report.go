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
	s += r.extras()
	return s
}

// extras is what the larger scenarios add to a run's line.
func (r *Result) extras() string {
	var s string
	if r.Streams >= 50_000 || r.PeakRSS > 1<<29 {
		s += fmt.Sprintf(" connect %.1fs peak-rss %s", r.ConnectTime.Seconds(), mb(r.PeakRSS))
	}
	if r.CrossDeliveries > 0 {
		s += fmt.Sprintf(" cross p50 %s p99 %s max %s", ms(r.CrossP50), ms(r.CrossP99), ms(r.CrossMax))
	}
	if r.Disrupted {
		s += fmt.Sprintf(" | storm: streams %d resumed %d (cut %d) resume p50 %s p99 %s max %s over-5s %d cpu %.0f%% (before %.0f%%) rss %s → peak %s",
			r.StormStreams, r.StormResumed, r.Cut, ms(r.ResumeP50), ms(r.ResumeP99), ms(r.ResumeMax), r.ResumedOver5s,
			r.StormCPUPercent, r.SteadyCPUPercent, mb(r.StormRSSBefore), mb(r.StormRSSPeak))
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
	if r.ServerFileLimit > 0 {
		fmt.Fprintf(w, "limits       server may open %d files; the tool raised its own limit to %d\n", r.ServerFileLimit, r.RaisedFileLimitTo)
	}
	if r.PeakRSS > 0 {
		fmt.Fprintf(w, "             server RSS at most %s (sampled every 200 ms)\n", mb(r.PeakRSS))
	}
	if r.CrossDeliveries > 0 {
		fmt.Fprintf(w, "cross        %d deliveries on the other servers: p50 %s, p99 %s, max %s\n", r.CrossDeliveries, ms(r.CrossP50), ms(r.CrossP99), ms(r.CrossMax))
	}
	if r.Disrupted {
		fmt.Fprintf(w, "storm        %d streams dropped after the disruption (it cut %d), %d resumed: p50 %s, p99 %s, max %s; %d took over 5 s or never came back\n",
			r.StormStreams, r.Cut, r.StormResumed, ms(r.ResumeP50), ms(r.ResumeP99), ms(r.ResumeMax), r.ResumedOver5s)
		fmt.Fprintf(w, "             server CPU %.0f%% of a core in the 5 s after (%.0f%% in the 3 s before); RSS %s at the cut, at most %s after\n",
			r.StormCPUPercent, r.SteadyCPUPercent, mb(r.StormRSSBefore), mb(r.StormRSSPeak))
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

	{"100k", "every stream connected in", "≤ 30 s", dur(func(r *Result) time.Duration { return r.ConnectTime }), median, fmtS, true, func(v float64) bool { return v <= float64(30*time.Second) }},
	{"100k", "server RSS, the most sampled", "≤ 1 GiB", func(r *Result) float64 { return float64(r.PeakRSS) }, median, fmtMB, true, func(v float64) bool { return v > 0 && v <= 1<<30 }},
	{"100k", "fan-out latency p50", "", dur(p50), median, fmtMS, true, nil},
	{"100k", "fan-out latency p99", "≤ 2 s", dur(p99), median, fmtMS, true, func(v float64) bool { return v <= float64(2*time.Second) }},
	{"100k", "fan-out latency max", "", dur(pmax), median, fmtMS, true, nil},
	{"100k", lostLabel, "0", wrong, maxOf, fmtInt, true, isZero},
	{"100k", "RSS per idle stream", "", func(r *Result) float64 { return r.RSSPerIdleStream }, median, fmtKB, true, nil},
	{"100k", "server CPU per delivery", "", dur(cpuPer), median, fmtUS, true, nil},

	{"100k-h2", "every stream connected in", "≤ 30 s", dur(func(r *Result) time.Duration { return r.ConnectTime }), median, fmtS, true, func(v float64) bool { return v <= float64(30*time.Second) }},
	{"100k-h2", "server RSS, the most sampled", "≤ 1 GiB", func(r *Result) float64 { return float64(r.PeakRSS) }, median, fmtMB, true, func(v float64) bool { return v > 0 && v <= 1<<30 }},
	{"100k-h2", "fan-out latency p50", "", dur(p50), median, fmtMS, true, nil},
	{"100k-h2", "fan-out latency p99", "≤ 2 s", dur(p99), median, fmtMS, true, func(v float64) bool { return v <= float64(2*time.Second) }},
	{"100k-h2", "fan-out latency max", "", dur(pmax), median, fmtMS, true, nil},
	{"100k-h2", lostLabel, "0", wrong, maxOf, fmtInt, true, isZero},
	{"100k-h2", "RSS per idle stream", "", func(r *Result) float64 { return r.RSSPerIdleStream }, median, fmtKB, true, nil},
	{"100k-h2", "server CPU per delivery", "", dur(cpuPer), median, fmtUS, true, nil},

	{"storm", "streams cut at once (fewest in a run)", "10,000", func(r *Result) float64 { return float64(r.StormStreams) }, minOf, fmtInt, false, func(v float64) bool { return v >= 10_000 }},
	{"storm", "resume time p50 (cut → reconnected with Last-Event-ID)", "", dur(func(r *Result) time.Duration { return r.ResumeP50 }), median, fmtMS, true, nil},
	{"storm", "resume time p99", "", dur(func(r *Result) time.Duration { return r.ResumeP99 }), median, fmtMS, true, nil},
	{"storm", "resume time max (worst run)", "≤ 5 s", dur(func(r *Result) time.Duration { return r.ResumeMax }), maxOf, fmtMS, true, func(v float64) bool { return v > 0 && v <= float64(5*time.Second) }},
	{"storm", "streams not resumed within 5 s (worst run)", "0", func(r *Result) float64 { return float64(r.ResumedOver5s) }, maxOf, fmtInt, true, isZero},
	{"storm", lostLabel, "0", wrong, maxOf, fmtInt, true, isZero},
	{"storm", "server CPU, 3 s before the cut (% of a core)", "", func(r *Result) float64 { return r.SteadyCPUPercent }, median, fmtPct, true, nil},
	{"storm", "server CPU, 5 s after the cut (% of a core)", "", func(r *Result) float64 { return r.StormCPUPercent }, median, fmtPct, true, nil},
	{"storm", "server RSS at the cut", "", func(r *Result) float64 { return float64(r.StormRSSBefore) }, median, fmtMB, true, nil},
	{"storm", "server RSS, the most in the 5 s after", "", func(r *Result) float64 { return float64(r.StormRSSPeak) }, median, fmtMB, true, nil},
	{"storm", "latency p99 over the run", "", dur(p99), median, fmtMS, true, nil},

	{"storm-proxy", "streams cut at once (fewest in a run)", "10,000", func(r *Result) float64 { return float64(r.StormStreams) }, minOf, fmtInt, false, func(v float64) bool { return v >= 10_000 }},
	{"storm-proxy", "resume time p50 (cut → reconnected with Last-Event-ID)", "", dur(func(r *Result) time.Duration { return r.ResumeP50 }), median, fmtMS, true, nil},
	{"storm-proxy", "resume time p99", "", dur(func(r *Result) time.Duration { return r.ResumeP99 }), median, fmtMS, true, nil},
	{"storm-proxy", "resume time max (worst run)", "≤ 5 s", dur(func(r *Result) time.Duration { return r.ResumeMax }), maxOf, fmtMS, true, func(v float64) bool { return v > 0 && v <= float64(5*time.Second) }},
	{"storm-proxy", "streams not resumed within 5 s (worst run)", "0", func(r *Result) float64 { return float64(r.ResumedOver5s) }, maxOf, fmtInt, true, isZero},
	{"storm-proxy", lostLabel, "0", wrong, maxOf, fmtInt, true, isZero},
	{"storm-proxy", "server CPU, 3 s before the cut (% of a core)", "", func(r *Result) float64 { return r.SteadyCPUPercent }, median, fmtPct, true, nil},
	{"storm-proxy", "server CPU, 5 s after the cut (% of a core)", "", func(r *Result) float64 { return r.StormCPUPercent }, median, fmtPct, true, nil},
	{"storm-proxy", "server RSS at the cut", "", func(r *Result) float64 { return float64(r.StormRSSBefore) }, median, fmtMB, true, nil},
	{"storm-proxy", "server RSS, the most in the 5 s after", "", func(r *Result) float64 { return float64(r.StormRSSPeak) }, median, fmtMB, true, nil},
	{"storm-proxy", "latency p99 over the run", "", dur(p99), median, fmtMS, true, nil},

	{"momento", "cross-instance latency p99 (streams on the other instance)", "", dur(func(r *Result) time.Duration { return r.CrossP99 }), median, fmtMS, true, nil},
	{"momento", "latency p99, all streams", "", dur(p99), median, fmtMS, true, nil},
	{"momento", "latency p99, memory store (one instance, every stream)", "", baseline(func(r *Result) float64 { return float64(r.P99) }), median, fmtMS, true, nil},
	{"momento", "cross-instance p99 ÷ memory p99", "≤ 1.5×", ratio(func(r *Result) float64 { return float64(r.CrossP99) }, func(r *Result) float64 { return float64(r.P99) }), median, fmtX, true, func(v float64) bool { return v > 0 && v <= 1.5 }},
	{"momento", "server CPU per delivery (both instances)", "", dur(cpuPer), median, fmtUS, true, nil},
	{"momento", "server CPU per delivery, memory store", "", baseline(func(r *Result) float64 { return float64(r.CPUPerDelivery) }), median, fmtUS, true, nil},
	{"momento", "CPU per delivery ÷ memory's", "≤ 1.2×", ratio(func(r *Result) float64 { return float64(r.CPUPerDelivery) }, func(r *Result) float64 { return float64(r.CPUPerDelivery) }), median, fmtX, true, func(v float64) bool { return v > 0 && v <= 1.2 }},
	{"momento", lostLabel + ", both stores", "0", func(r *Result) float64 { return wrong(r) + baseline(wrong)(r) }, maxOf, fmtInt, true, isZero},

	{"rolling", "streams moved to the other instance (fewest in a run)", "≈ 5,000", func(r *Result) float64 { return float64(r.StormStreams) }, minOf, fmtInt, false, nil},
	{"rolling", "resume time p99 (restart → reconnected with Last-Event-ID)", "", dur(func(r *Result) time.Duration { return r.ResumeP99 }), median, fmtMS, true, nil},
	{"rolling", "resume time max (worst run)", "≤ 5 s", dur(func(r *Result) time.Duration { return r.ResumeMax }), maxOf, fmtMS, true, func(v float64) bool { return v > 0 && v <= float64(5*time.Second) }},
	{"rolling", "streams not resumed within 5 s (worst run)", "0", func(r *Result) float64 { return float64(r.ResumedOver5s) }, maxOf, fmtInt, true, isZero},
	{"rolling", lostLabel, "0", wrong, maxOf, fmtInt, true, isZero},
	{"rolling", "survivor's CPU, 5 s after the restart (% of a core)", "", func(r *Result) float64 { return r.StormCPUPercent }, median, fmtPct, true, nil},
	{"rolling", "survivor's RSS, the most in the 5 s after", "", func(r *Result) float64 { return float64(r.StormRSSPeak) }, median, fmtMB, true, nil},
}

func minOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return slices.Min(v)
}

// baseline is f of a run's baseline, 0 without one.
func baseline(f func(*Result) float64) func(*Result) float64 {
	return func(r *Result) float64 {
		if r.Baseline == nil {
			return 0
		}
		return f(r.Baseline)
	}
}

// ratio is f of a run over g of its baseline, 0 without one.
func ratio(f, g func(*Result) float64) func(*Result) float64 {
	return func(r *Result) float64 {
		if r.Baseline == nil || g(r.Baseline) == 0 {
			return 0
		}
		return f(r) / g(r.Baseline)
	}
}

func fmtS(v float64) string  { return fmt.Sprintf("%.1f s", v/1e9) }
func fmtMB(v float64) string { return mb(int64(v)) }
func fmtX(v float64) string  { return fmt.Sprintf("%.2f×", v) }

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
