package soak_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/handlers"
	"github.com/sessionchat/sessionchat/handlers/handlerstest"
	"github.com/sessionchat/sessionchat/memory"
)

// The shape of the soak. SOAK_DURATION sets how long posters post.
const (
	streams       = 1000
	rooms         = 4
	posters       = 4
	postEvery     = 100 * time.Millisecond // per poster: 40 posts a second in all
	maxStreamLife = 15 * time.Second       // a client drops its stream after up to this long
	catchUp       = 60 * time.Second       // bound on the clients' catching up after the last post
	settle        = 15 * time.Second       // bound on goroutines and files going back to baseline
	heapSlack     = 16 << 20               // what the heap may keep over its baseline
)

func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak runs for a minute: skipped with -short")
	}
	duration := time.Minute
	if s := os.Getenv("SOAK_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("SOAK_DURATION=%q: want a positive duration such as 20s", s)
		}
		duration = d
	}

	warmUpNetwork(t)
	baseGoroutines, baseFiles, baseHeap := runtime.NumGoroutine(), openFiles(t), heapAlloc()

	s := startServer(t)
	st := soak(t, s, duration)
	s.stop()
	st.report(t)

	// Everything the soak held is released: what remains is a leak.
	goroutines := settleTo(baseGoroutines, runtime.NumGoroutine)
	files := settleTo(baseFiles, func() int { return openFiles(t) })
	heap := heapAlloc()
	t.Logf("baseline → after: goroutines %d → %d, open files %d → %d, heap %.1f → %.1f MiB",
		baseGoroutines, goroutines, baseFiles, files, mib(baseHeap), mib(heap))
	if goroutines > baseGoroutines {
		var b strings.Builder
		pprof.Lookup("goroutine").WriteTo(&b, 1)
		t.Errorf("%d goroutines left over (baseline %d):\n%s", goroutines-baseGoroutines, baseGoroutines, b.String())
	}
	if files > baseFiles {
		t.Errorf("%d open files left over (baseline %d)", files-baseFiles, baseFiles)
	}
	if heap > baseHeap+heapSlack {
		t.Errorf("the heap kept %.1f MiB over its baseline of %.1f MiB", mib(heap-baseHeap), mib(baseHeap))
	}
}

// server is the chat as cmd/chat wires it with the memory store, served
// on 127.0.0.1.
type server struct {
	*handlerstest.App
}

func startServer(t *testing.T) *server {
	t.Helper()
	a := handlerstest.New(t, handlerstest.Config{
		// The history holds every post of the soak, so that each client's
		// sequence can be checked against it whole.
		Memory: memory.Options{TTL: time.Hour, Limit: 1 << 20, MaxBytes: memory.DefaultMaxBytes},
		// No per-client limits: every client is 127.0.0.1.
		Handlers: handlers.Options{HistoryTTL: time.Hour},
		Configure: func(srv *httptest.Server) {
			// Server timeouts shorter than most streams' lives, which must
			// not cut them.
			srv.Config.ReadHeaderTimeout = 2 * time.Second
			srv.Config.ReadTimeout = 3 * time.Second
			srv.Config.WriteTimeout = 5 * time.Second
		},
	})
	return &server{App: a}
}

func (s *server) stop() { s.Stop() }

// soakState is what the soak saw.
type soakState struct {
	clients  []*client
	history  map[chat.Room][]chat.Message
	posted   int
	postErrs int
	peakHeap uint64
	lasted   time.Duration
}

func soak(t *testing.T, s *server, duration time.Duration) *soakState {
	addr := s.Listener.Addr().String()
	roomNames := make([]chat.Room, rooms)
	for i := range roomNames {
		roomNames[i] = chat.Room(fmt.Sprint("soak-", i))
	}
	seen := make(map[chat.Room]*roomData)
	for _, r := range roomNames {
		seen[r] = &roomData{data: make(map[chat.ID]string)}
	}

	// The streams: all connected before the first post, so that each
	// must end up with its room's whole history.
	start := time.Now()
	clients := make([]*client, streams)
	var wg sync.WaitGroup
	for i := range clients {
		room := roomNames[i%rooms]
		c := &client{addr: addr, room: room, seen: seen[room], rng: rand.New(rand.NewPCG(uint64(i), 7)), connected: make(chan struct{})}
		clients[i] = c
		wg.Go(c.run)
	}
	connectBy := time.NewTimer(30 * time.Second)
	defer connectBy.Stop()
	for i, c := range clients {
		select {
		case <-c.connected:
		case <-connectBy.C:
			for _, c := range clients {
				c.stop()
			}
			wg.Wait()
			t.Fatalf("stream %d (and maybe others) did not connect within 30s", i)
		}
	}
	t.Logf("%d streams connected in %v", streams, time.Since(start).Round(time.Millisecond))

	// The posters, each on its own keep-alive connection.
	st := &soakState{clients: clients}
	var posted, postErrs atomic.Int64
	var posting sync.WaitGroup
	stopPosting := time.Now().Add(duration)
	transports := make([]*http.Transport, posters)
	for p := range posters {
		tr := &http.Transport{MaxIdleConnsPerHost: 1}
		transports[p] = tr
		client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		posting.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(p), 11))
			tick := time.NewTicker(postEvery)
			defer tick.Stop()
			for n := 0; time.Now().Before(stopPosting); n++ {
				room := roomNames[rng.IntN(rooms)]
				body := fmt.Sprintf(`{"username":"poster-%d","message":"post %d of poster %d 👋"}`, p, n, p)
				resp, err := client.Post("http://"+addr+"/api/rooms/"+string(room)+"/messages", "application/json", strings.NewReader(body))
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != http.StatusCreated {
					postErrs.Add(1)
				} else {
					posted.Add(1)
				}
				<-tick.C
			}
		})
	}
	posting.Wait()
	for _, tr := range transports {
		tr.CloseIdleConnections()
	}
	st.posted, st.postErrs = int(posted.Load()), int(postErrs.Load())
	st.peakHeap = heapAlloc()

	// The truth: each room's history, which holds every post.
	st.history = make(map[chat.Room][]chat.Message)
	for _, r := range roomNames {
		msgs, err := s.Memory.History(t.Context(), r)
		if err != nil {
			t.Fatal(err)
		}
		st.history[r] = msgs
	}

	// Every client catches up with its room, then hangs up for good.
	deadline := time.Now().Add(catchUp)
	for _, c := range clients {
		want := st.history[c.room]
		for !c.has(len(want)) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // polling a counter: no event says "caught up"
		}
	}
	for _, c := range clients {
		c.stop()
	}
	wg.Wait()
	st.lasted = time.Since(start)
	return st
}

// roomData is the data line of each event of a room as the first client
// to receive it saw it; every other client must see the same bytes.
type roomData struct {
	mu   sync.Mutex
	data map[chat.ID]string
}

// check records data for id, or reports whether it matches what was
// recorded.
func (r *roomData) check(id chat.ID, data []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d, ok := r.data[id]; ok {
		return d == string(data)
	}
	r.data[id] = string(data)
	return true
}

// client is one reader of a room's stream over raw HTTP/1.1: it drops its
// connection after a random while and resumes with Last-Event-ID (a
// quarter of the time with ?after=).
type client struct {
	addr      string
	room      chat.Room
	seen      *roomData
	rng       *rand.Rand
	connected chan struct{} // closed once the first stream is open

	mu          sync.Mutex
	conn        net.Conn
	stopped     bool
	got         []chat.ID
	drops       int // the client hung up to resume
	serverEnds  int // the server ended the stream
	refused     int // a connection or request that failed
	duplicates  int
	mismatched  int
	firstDialed bool
}

func (c *client) has(n int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got) >= n
}

func (c *client) last() chat.ID {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.got) == 0 {
		return chat.ID{}
	}
	return c.got[len(c.got)-1]
}

func (c *client) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	if c.conn != nil {
		c.conn.Close()
	}
}

func (c *client) run() {
	for {
		c.mu.Lock()
		stopped := c.stopped
		c.mu.Unlock()
		if stopped {
			return
		}
		err := c.stream()
		c.mu.Lock()
		switch {
		case c.stopped:
		case errors.Is(err, errDropped):
			c.drops++
		case errors.Is(err, errRefused):
			c.refused++
		default:
			c.serverEnds++
		}
		c.mu.Unlock()
		if errors.Is(err, errRefused) {
			time.Sleep(100 * time.Millisecond) // back off before trying again
		}
	}
}

var (
	errDropped = errors.New("the client dropped the stream")
	errRefused = errors.New("the stream could not be opened")
)

// stream reads one connection's stream until the client drops it, the
// server ends it or the client is stopped.
func (c *client) stream() error {
	conn, err := net.DialTimeout("tcp", c.addr, 10*time.Second)
	if err != nil {
		return fmt.Errorf("%w: %w", errRefused, err)
	}
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		conn.Close()
		return nil
	}
	c.conn = conn
	c.mu.Unlock()
	defer conn.Close()

	path := "/api/rooms/" + string(c.room) + "/events"
	var header string
	if last := c.last(); !last.IsZero() {
		if c.rng.IntN(4) == 0 {
			path += "?after=" + last.String()
		} else {
			header = "Last-Event-ID: " + last.String() + "\r\n"
		}
	}
	// The drop comes as the read deadline.
	conn.SetDeadline(time.Now().Add(time.Duration(c.rng.Int64N(int64(maxStreamLife)))))
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: "+c.addr+"\r\nAccept: text/event-stream\r\n"+header+"\r\n"); err != nil {
		return classify(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return classify(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: status %d", errRefused, resp.StatusCode)
	}
	c.mu.Lock()
	if !c.firstDialed {
		c.firstDialed = true
		close(c.connected)
	}
	c.mu.Unlock()

	lines := bufio.NewReader(resp.Body)
	var id chat.ID
	var data []byte
	for {
		line, err := lines.ReadSlice('\n')
		if err != nil {
			return classify(err)
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		switch {
		case len(line) == 0:
			if !id.IsZero() {
				c.receive(id, data)
			}
			id, data = chat.ID{}, data[:0]
		case bytes.HasPrefix(line, []byte("id: ")):
			id, _ = chat.ParseID(string(line[len("id: "):]))
		case bytes.HasPrefix(line, []byte("data: ")):
			data = append(data[:0], line[len("data: "):]...)
		}
	}
}

func (c *client) receive(id chat.ID, data []byte) {
	match := c.seen.check(id, data)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !match {
		c.mismatched++
	}
	if n := len(c.got); n > 0 && !id.After(c.got[n-1]) {
		c.duplicates++ // sent twice, or out of order
		return
	}
	c.got = append(c.got, id)
}

// classify tells a drop (the client's deadline) from the server ending
// the stream.
func classify(err error) error {
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return errDropped
	}
	return err
}

// report logs the soak's figures and checks each client against its
// room's history.
func (st *soakState) report(t *testing.T) {
	t.Helper()
	var events, drops, serverEnds, refused, duplicates, mismatched, lost, extra int
	historyLen := 0
	for _, h := range st.history {
		historyLen += len(h)
	}
	for i, c := range st.clients {
		c.mu.Lock()
		events += len(c.got)
		drops += c.drops
		serverEnds += c.serverEnds
		refused += c.refused
		duplicates += c.duplicates
		mismatched += c.mismatched
		want := st.history[c.room]
		ids := make([]chat.ID, len(want))
		for j, m := range want {
			ids[j] = m.ID
		}
		if !slices.Equal(c.got, ids) {
			missing := 0
			for _, id := range ids {
				if !slices.Contains(c.got, id) {
					missing++
				}
			}
			lost += missing
			extra += len(c.got) - (len(ids) - missing)
			if missing > 0 || len(c.got) != len(ids) {
				t.Errorf("client %d of %s: received %d messages, history has %d (%d missing)", i, c.room, len(c.got), len(ids), missing)
			}
		}
		c.mu.Unlock()
	}
	t.Logf("soak: %d streams on %d rooms for %v; %d posts by %d posters (%d failed), %d in history",
		streams, rooms, st.lasted.Round(time.Second), st.posted, posters, st.postErrs, historyLen)
	t.Logf("soak: %d events received, %d resumes after a client drop, %d streams ended by the server, %d refused; lost %d, duplicates %d, extra %d, corrupt %d; heap at the end of posting %.1f MiB",
		events, drops, serverEnds, refused, lost, duplicates, extra, mismatched, mib(st.peakHeap))

	if st.posted == 0 || st.postErrs > 0 {
		t.Errorf("%d posts stored, %d failed: want all to succeed", st.posted, st.postErrs)
	}
	if historyLen != st.posted {
		t.Errorf("the rooms' histories hold %d messages, %d were posted", historyLen, st.posted)
	}
	if drops == 0 {
		t.Errorf("no client dropped and resumed its stream")
	}
	if lost != 0 || duplicates != 0 || extra != 0 || mismatched != 0 {
		t.Errorf("lost %d, duplicates %d, extra %d, corrupt %d: want none", lost, duplicates, extra, mismatched)
	}
	// The data every client saw is the stored message.
	for room, msgs := range st.history {
		d := st.clients[0].seen
		for _, c := range st.clients {
			if c.room == room {
				d = c.seen
				break
			}
		}
		for _, m := range msgs {
			want, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.data[m.ID]; got != string(want) {
				t.Errorf("%s: event %s carried %s, the stored message is %s", room, m.ID, got, want)
				break
			}
		}
	}
}

// warmUpNetwork opens what the runtime keeps for the network once used
// (the poller), so that the baseline of open files counts it.
func warmUpNetwork(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
}

func openFiles(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("counting open files: %v", err)
	}
	return len(entries)
}

// settleTo waits, within settle, for count to come down to base, and
// returns the last count.
func settleTo(base int, count func() int) int {
	deadline := time.Now().Add(settle)
	n := count()
	for n > base && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // nothing signals a goroutine's exit or a file's closing
		n = count()
	}
	return n
}

func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
