//go:build !linux || closereader

package handlers

import (
	"log/slog"
	"net"
)

// closeWatcher tells streams that took over their connections when their
// clients close them (FIN or RST), at once: such a connection is never
// otherwise read, so without a watch a close shows only when a later
// write fails, a heartbeat or more away.
//
// This portable watcher reads each connection in a goroutine of its own
// and throws away what it reads (an event stream's client sends nothing
// after its request). On Linux a single epoll instance watches them all
// instead (watch_epoll.go), which spares that goroutine per stream.
type closeWatcher struct{}

func newCloseWatcher(*slog.Logger) *closeWatcher { return &closeWatcher{} }

// watch arranges for gone to run, once, soon after the client closes c
// (or c is closed). Call stop before closing c.
func (w *closeWatcher) watch(c net.Conn, gone func()) (stop func(), err error) {
	go func() {
		var b [64]byte
		for {
			if _, err := c.Read(b[:]); err != nil {
				gone()
				return
			}
		}
	}()
	return func() {}, nil
}
