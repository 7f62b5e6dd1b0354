package momento_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sdk "github.com/momentohq/client-sdk-go/momento"
	"github.com/momentohq/client-sdk-go/utils"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/chat/chattest"
	"github.com/sessionchat/sessionchat/momento"
	"github.com/sessionchat/sessionchat/momento/momentotest"
)

// seedPush pushes item to room's list as the original Socket.io app does:
// JSON.stringify({username, message}), the client's default TTL with
// refresh, no truncation.
func seedPush(t *testing.T, srv *momentotest.Server, room chat.Room, item string, ttl time.Duration) {
	t.Helper()
	cc, err := sdk.NewCacheClient(momento.CacheConfig(), srv.Credential(), ttl)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if _, err := cc.ListPushBack(t.Context(), &sdk.ListPushBackRequest{
		CacheName: "chat", ListName: string(room), Value: sdk.String(item),
		Ttl: &utils.CollectionTtl{Ttl: 0, RefreshTtl: true},
	}); err != nil {
		t.Fatal(err)
	}
}

// The original app's items show where it pushed them, between ours; one
// whose message is not a string shows its JSON text; a cursor keeps the
// items after its message.
func TestSeedItemsKeepTheirPlace(t *testing.T) {
	srv := momentotest.Start(t)
	in := newInstance(t, srv)
	post := func(text string) chat.Message {
		t.Helper()
		m, err := in.svc.Post(t.Context(), "shared", "new", text)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	seed := func(item string) { seedPush(t, srv, "shared", item, time.Hour) }

	m1 := post("one")
	seed(`{"username":"old","message":"from the old app"}`)
	m2 := post("two")
	seed(`{"username":"old","message":42}`)
	seed(`{"username":"old","message":{"a":[1, 2],"b":"<c>"}}`)
	seed(`not json`)
	seed(`{"username":"old"}`)
	m3 := post("three")
	old := func(text string) chat.Message { return chat.Message{Room: "shared", Username: "old", Text: text} }
	want := []chat.Message{m1, old("from the old app"), m2, old("42"), old(`{"a":[1,2],"b":"<c>"}`), m3}

	cold := newInstance(t, srv) // reads the list, as every instance's first join does
	got, err := cold.svc.History(t.Context(), "shared")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	st, err := newInstance(t, srv).svc.Join(t.Context(), "shared", m1.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if diff := cmp.Diff(want[1:], st.Backlog); diff != "" {
		t.Errorf("backlog after %s (-want +got):\n%s", m1.ID, diff)
	}
}

// A room whose list expired while its counter lived on (the original
// app's push shortened the list's TTL): old cursors give the whole new
// history, the original app's item before our first included.
func TestListExpiredWhileCounterLived(t *testing.T) {
	for _, mode := range []momentotest.IncrementTTL{momentotest.IncrementKeepTTL, momentotest.IncrementRefreshTTL} {
		t.Run(mode.String(), func(t *testing.T) {
			clock := chattest.NewClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
			srv := momentotest.Start(t, momentotest.WithClock(clock.Now), momentotest.WithIncrementTTL(mode))
			b := open(t, momento.Config{Endpoint: srv.Addr(), Cache: "chat", TTL: time.Hour, Limit: 100, Now: clock.Now})
			store := b.Store()
			svc := func() *chat.Service { // a cold instance: no tail
				hub := chat.NewHub(chat.HubOptions{Store: store})
				t.Cleanup(hub.Close)
				return chat.NewService(store, hub, nil)
			}
			var old []chat.Message
			for _, text := range []string{"a", "b", "c"} {
				m, err := svc().Post(t.Context(), "r", "u", text)
				if err != nil {
					t.Fatal(err)
				}
				old = append(old, m)
			}
			seedPush(t, srv, "r", `{"username":"old","message":"short"}`, time.Minute)
			clock.Advance(2 * time.Minute) // the list is gone, the counter not
			seedPush(t, srv, "r", `{"username":"old","message":"back"}`, time.Minute)
			m, err := svc().Post(t.Context(), "r", "u", "new")
			if err != nil {
				t.Fatal(err)
			}
			if !m.ID.After(old[2].ID) {
				t.Errorf("new message %s is not after the old %s", m.ID, old[2].ID)
			}
			want := []chat.Message{{Room: "r", Username: "old", Text: "back"}, m}
			for _, cursor := range []chat.Message{old[0], old[2]} {
				st, err := svc().Join(t.Context(), "r", cursor.ID.String())
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, st.Backlog); diff != "" {
					t.Errorf("backlog after the old %s (-want +got):\n%s", cursor.ID, diff)
				}
				st.Close()
			}
		})
	}
}
