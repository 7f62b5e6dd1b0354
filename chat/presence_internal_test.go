package chat

import (
	"encoding/json"
	"testing"
)

// One person counts once however many tabs and instances they are on; a
// watcher whose tag is also a person's is that person; untagged watchers
// each count.
func TestMergePresence(t *testing.T) {
	a := summarize("r", "A", []Person{
		{Name: "ann", Tag: "t1"}, {Name: "ann", Tag: "t1"}, // two tabs
		{Tag: "t2"}, {Tag: "t2"}, // one watcher, two tabs
		{}, {}, // two untagged watchers
		{Name: "sam", Tag: "t3"}, {Name: "sam", Tag: "t4"}, // two people, one name
	})
	b := summarize("r", "B", []Person{
		{Name: "ann", Tag: "t1"}, // ann on the other instance too
		{Tag: "t3"},              // sam watching from another tab
		{Tag: "t5"},
	})
	got, _ := json.Marshal(merge("r", a, b))
	want := `{"room":"r","people":[{"name":"ann","tag":"t1"},{"name":"sam","tag":"t3"},{"name":"sam","tag":"t4"}],"watchers":4}`
	if string(got) != want {
		t.Errorf("merged presence\n got %s\nwant %s", got, want)
	}
	if e := merge("r"); e.People == nil || e.Watchers != 0 {
		t.Errorf("empty presence %+v: want people [] (never null)", e)
	}
}

func TestNumbered(t *testing.T) {
	for _, c := range []struct {
		name string
		i    int
		want string
	}{
		{"bob", 2, "bob (2)"},
		{"abcdefghijklmnopqrstuvwxyz012345", 2, "abcdefghijklmnopqrstuvwxyz01 (2)"},
		{"日本語の名前はとても長いですがこれは三十二文字までですよ本当に", 10, "日本語の名前はとても長いですがこれは三十二文字までです (10)"},
	} {
		got := numbered(c.name, c.i)
		if got != c.want {
			t.Errorf("numbered(%q, %d) = %q, want %q", c.name, c.i, got, c.want)
		}
		if _, err := ParseName(got); err != nil {
			t.Errorf("numbered(%q, %d) = %q: not a valid name: %v", c.name, c.i, got, err)
		}
	}
}
