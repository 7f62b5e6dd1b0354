package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/sessionchat/sessionchat/handlers"
)

// IPv6 clients are counted by /64: the addresses of one site's /64 share
// a budget; another /64 has its own. Directly connected peers are served
// through the handler with their RemoteAddr (loopback has one IPv6
// address); peers behind a trusted proxy over a real server.
func TestIPv6ClientsAreCountedBySlash64(t *testing.T) {
	const (
		first  = "2001:db8:1:2::a"
		sameNw = "2001:db8:1:2:ffff:eeee:dddd:cccc" // first's /64
		other  = "2001:db8:1:3::a"                  // the next /64
		mapped = "::ffff:203.0.113.7"               // IPv4, written as IPv6
		v4     = "203.0.113.7"
	)
	// One post per client, then a refusal: the limit to watch.
	o := handlers.Options{PostRate: 0.001, PostBurst: 1}
	body := `{"username":"a","message":"b"}`

	t.Run("direct", func(t *testing.T) {
		a := newApp(t, o)
		post := func(peer string) int {
			req := httptest.NewRequestWithContext(t.Context(), "POST", "/api/rooms/r/messages", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.RemoteAddr = netip.AddrPortFrom(netip.MustParseAddr(peer), 40000).String()
			rec := httptest.NewRecorder()
			a.Config.Handler.ServeHTTP(rec, req)
			return rec.Code
		}
		checkPosts(t, post, []limitCase{
			{first, 201}, {sameNw, 429}, {first, 429}, {other, 201},
			{"fe80::1%eth0", 201}, {"fe80::2%eth1", 429}, // zones do not split a /64
			{v4, 201}, {mapped, 429},
		})
	})

	t.Run("behind a trusted proxy", func(t *testing.T) {
		o := o
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
		a := newApp(t, o)
		post := func(xff string) int {
			resp, _ := a.do(t, "POST", "/api/rooms/r/messages", "application/json", body, "X-Forwarded-For", xff)
			return resp.StatusCode
		}
		checkPosts(t, post, []limitCase{
			{first, 201},
			{sameNw, 429},
			{sameNw + ", 2001:db8:ffff::1", 429}, // through two proxies
			{"2001:db8:1:2::1234", 429},
			{other, 201},
			{"2001:db8:1:4::1, " + other, 429}, // a forged hop on the left is not the client
			{v4, 201}, {mapped, 429},
		})
	})

	t.Run("streams", func(t *testing.T) {
		o := handlers.Options{MaxStreamsPerClient: 1, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
		a := newApp(t, o)
		if s := a.openStream(t, "/api/rooms/r/events", "X-Forwarded-For", first); s.resp.StatusCode != http.StatusOK {
			t.Fatalf("first stream from %s: status %d", first, s.resp.StatusCode)
		}
		if s := a.openStream(t, "/api/rooms/r/events", "X-Forwarded-For", sameNw); s.resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("a second stream from %s, in the same /64: status %d, want 429", sameNw, s.resp.StatusCode)
		}
		if s := a.openStream(t, "/api/rooms/r/events", "X-Forwarded-For", other); s.resp.StatusCode != http.StatusOK {
			t.Errorf("a stream from %s, another /64: status %d, want 200", other, s.resp.StatusCode)
		}
	})
}

type limitCase struct {
	client string
	want   int
}

func checkPosts(t *testing.T, post func(client string) int, cases []limitCase) {
	t.Helper()
	for _, c := range cases {
		if got := post(c.client); got != c.want {
			t.Errorf("post from %s: status %d, want %d", c.client, got, c.want)
		}
	}
}
