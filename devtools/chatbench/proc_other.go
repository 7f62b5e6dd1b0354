//go:build !linux

package main

import (
	"errors"
	"syscall"
	"time"
)

// The tool measures servers through Linux's /proc; elsewhere it still
// drives load but reports no server RSS or CPU.

type procSample struct {
	RSS int64
	CPU time.Duration
}

func readProc(int) (procSample, error)   { return procSample{}, errors.New("/proc is Linux only") }
func selfCPU() time.Duration             { return 0 }
func machineBusy() time.Duration         { return 0 }
func raiseNoFile(uint64) (uint64, error) { return 0, errors.New("not raised: Linux only") }
func childAttr() *syscall.SysProcAttr    { return nil }
func procFileLimit(int) (uint64, error)  { return 0, errors.New("Linux only") }
