package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// procSample is what /proc says of a process at one moment.
type procSample struct {
	RSS int64         // resident set, bytes
	CPU time.Duration // user + system time since it started
}

// readProc reads the resident set (VmRSS in /proc/PID/status) and the CPU
// time (utime + stime in /proc/PID/stat, in clock ticks) of process pid.
func readProc(pid int) (procSample, error) {
	var s procSample
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for line := range bytes.Lines(status) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(v) // "123456 kB"
			if len(f) < 1 {
				break
			}
			kb, err := strconv.ParseInt(string(f[0]), 10, 64)
			if err != nil {
				return s, fmt.Errorf("VmRSS %q: %w", v, err)
			}
			s.RSS = kb << 10
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name (field 2) may hold spaces and parentheses; the
	// fields after its closing parenthesis start with field 3, the state.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, errors.New("unexpected /proc/PID/stat")
	}
	f := bytes.Fields(stat[i+1:])
	if len(f) < 13 {
		return s, errors.New("short /proc/PID/stat")
	}
	var ticks int64
	for _, field := range f[11:13] { // utime (14), stime (15)
		t, err := strconv.ParseInt(string(field), 10, 64)
		if err != nil {
			return s, fmt.Errorf("/proc/PID/stat: %w", err)
		}
		ticks += t
	}
	s.CPU = time.Duration(ticks) * time.Second / time.Duration(clockTicks())
	return s, nil
}

// machineBusy is the CPU time all processors have spent busy since boot
// (the "cpu" line of /proc/stat, without idle and iowait).
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 8 || string(f[0]) != "cpu" {
		return 0
	}
	var ticks int64
	for i, v := range f[1:8] { // user nice system idle iowait irq softirq
		if i == 3 || i == 4 {
			continue
		}
		t, _ := strconv.ParseInt(string(v), 10, 64)
		ticks += t
	}
	if len(f) > 8 { // steal
		t, _ := strconv.ParseInt(string(f[8]), 10, 64)
		ticks += t
	}
	return time.Duration(ticks) * time.Second / time.Duration(clockTicks())
}

// clockTicks is sysconf(_SC_CLK_TCK), which the kernel also passes to
// every process as AT_CLKTCK in its auxiliary vector; 100 if unreadable.
func clockTicks() int64 {
	const atClkTck = 17
	auxv, err := os.ReadFile("/proc/self/auxv")
	if err == nil {
		for i := 0; i+16 <= len(auxv); i += 16 {
			k := binary.NativeEndian.Uint64(auxv[i:])
			v := binary.NativeEndian.Uint64(auxv[i+8:])
			if k == atClkTck && v > 0 {
				return int64(v)
			}
		}
	}
	return 100
}

// selfCPU is this process's user + system time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// raiseNoFile raises this process's limit on open files to at least want,
// lifting the hard limit too when allowed (the servers the tool starts
// inherit it), and returns the soft limit now in force.
func raiseNoFile(want uint64) (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if l.Cur >= want {
		return l.Cur, nil
	}
	if l.Max < want {
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: want}) == nil {
			return want, nil
		}
	}
	l.Cur = min(want, l.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	return l.Cur, nil
}

// childAttr makes a started server die with the tool, however the tool ends.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// procFileLimit is process pid's soft limit on open files ("Max open
// files" in /proc/PID/limits).
func procFileLimit(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("Max open files")); ok {
			f := bytes.Fields(v)
			if len(f) < 1 {
				break
			}
			if string(f[0]) == "unlimited" {
				return 1 << 62, nil
			}
			return strconv.ParseUint(string(f[0]), 10, 64)
		}
	}
	return 0, errors.New("no Max open files in /proc/PID/limits")
}
