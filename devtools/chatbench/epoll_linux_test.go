package main

import (
	"encoding/binary"
	"syscall"
	"testing"
)

func TestRxTimestamp(t *testing.T) {
	cmsg := func(level, typ int32, data ...int64) []byte {
		b := make([]byte, 16+8*len(data))
		binary.NativeEndian.PutUint64(b, uint64(len(b)))
		binary.NativeEndian.PutUint32(b[8:], uint32(level))
		binary.NativeEndian.PutUint32(b[12:], uint32(typ))
		for i, d := range data {
			binary.NativeEndian.PutUint64(b[16+8*i:], uint64(d))
		}
		return b
	}
	other := cmsg(syscall.SOL_SOCKET, syscall.SCM_RIGHTS, 7)
	ts := cmsg(syscall.SOL_SOCKET, syscall.SCM_TIMESTAMPNS, 1_700_000_000, 42)
	for _, tc := range []struct {
		name string
		oob  []byte
		want int64
		ok   bool
	}{
		{"none", nil, 0, false},
		{"alone", ts, 1_700_000_000_000_000_042, true},
		{"after another", append(other, ts...), 1_700_000_000_000_000_042, true},
		{"other only", other, 0, false},
		{"truncated", ts[:20], 0, false},
	} {
		got, ok := rxTimestamp(tc.oob)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: rxTimestamp = %d, %v; want %d, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
