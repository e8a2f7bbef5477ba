package experiments

import (
	"strings"
	"testing"
)

func knob(t *testing.T, name string) *Knob {
	t.Helper()
	k, ok := KnobNamed(name)
	if !ok {
		t.Fatalf("no knob %s in the table", name)
	}
	return k
}

func TestKnobStepping(t *testing.T) {
	workers := knob(t, "workers")
	if got := workers.Next("16"); got != "1" {
		t.Fatalf("workers after 16 = %s, want 1 (wrap)", got)
	}
	if got := workers.Prev("1"); got != "16" {
		t.Fatalf("workers before 1 = %s, want 16", got)
	}
	if got := knob(t, "mode").Next("sync"); got != "async" {
		t.Fatalf("mode after sync = %s", got)
	}
}

func TestCheckNamesFlagAndChoices(t *testing.T) {
	cases := []struct{ knob, value, want string }{
		{"workers", "17", "use one of 1..16"},
		{"mode", "fast", "use one of sync, async"},
		{"offload", "on", "has no knob --offload"},
	}
	for _, c := range cases {
		err := Likes.Check(c.knob, c.value)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Check(%s=%s) = %v, want %q", c.knob, c.value, err, c.want)
		}
	}
	if err := Likes.Check("cache", "on"); err != nil {
		t.Fatal(err)
	}
}

func TestSweepsCrossProduct(t *testing.T) {
	axes, err := Likes.ParseSweeps([]string{"workers=1,2,4", "mode=sync,async", "cache=off,on"})
	if err != nil {
		t.Fatal(err)
	}
	runs := Runs(Likes.Defaults(), axes)
	if len(runs) != 12 {
		t.Fatalf("%d runs, want 12", len(runs))
	}
	first, last := Likes.Describe(runs[0]), Likes.Describe(runs[11])
	if !strings.Contains(first, "workers=1 mode=sync cache=off") || !strings.Contains(last, "workers=4 mode=async cache=on") {
		t.Fatalf("order: first %q, last %q", first, last)
	}
	if runs[1]["cache"] != "on" || runs[1]["workers"] != "1" {
		t.Fatalf("second run %v: the last axis must vary fastest", runs[1])
	}
}

func TestSweepBadInput(t *testing.T) {
	cases := map[string][]string{
		"no values":       {"workers="},
		"not knob=values": {"workers"},
		"unknown knob":    {"color=red"},
		"bad value":       {"workers=0"},
		"twice":           {"mode=sync", "mode=async"},
		"duplicate value": {"mode=sync,sync"},
		"foreign knob":    {"offload=on"},
	}
	for name, flags := range cases {
		if _, err := Likes.ParseSweeps(flags); err == nil {
			t.Errorf("%s: %v accepted", name, flags)
		}
	}
}

func TestStudyLookup(t *testing.T) {
	s := Likes.Defaults()
	s["workers"] = "4"
	c, ok := Likes.StudyFor(s)
	if !ok || c.Mean != ms(152.9) || c.Label != "sync, 4 workers, no cache" {
		t.Fatalf("study for sync 4 no cache = %+v, %v", c, ok)
	}
	s["workers"] = "3"
	s["mode"] = "async"
	if _, ok := Likes.StudyFor(s); ok {
		t.Fatal("the study has no async 3-worker cell")
	}
	if c, ok := Static.StudyFor(Settings{"offload": "on", "profile": "django"}); !ok || c.RPS != 193.61 {
		t.Fatalf("static offload on study = %+v", c)
	}
	for _, e := range All() {
		for _, run := range e.StudyRuns() {
			for k, v := range run {
				if err := e.Check(k, v); err != nil {
					t.Errorf("%s study sweep: %v", e.Name, err)
				}
			}
		}
	}
}

// TestStudyOnlyBesideWhatItRan: the study's figures stand beside the
// configuration it ran, under its conditions (the N+1 query uncached, the
// prefetch behind the cache, Django's costs); elsewhere the gap says why.
func TestStudyOnlyBesideWhatItRan(t *testing.T) {
	base := Likes.Defaults()
	cases := []struct {
		name    string
		changes map[string]string
		ok      bool
		gap     string
	}{
		{"as the study ran it", map[string]string{"workers": "4"}, true, ""},
		{"go profile", map[string]string{"workers": "4", "profile": "go"}, false, "the study ran this with profile django"},
		{"prefetch uncached", map[string]string{"workers": "4", "query": "prefetch"}, false, "the study ran this with query naive"},
		{"cached prefetch", map[string]string{"workers": "4", "cache": "on", "query": "prefetch"}, true, ""},
		{"cached naive, go", map[string]string{"workers": "4", "cache": "on", "profile": "go"}, false, "the study ran this with query prefetch, profile django"},
		{"never ran", map[string]string{"workers": "3", "mode": "async"}, false, "the study did not measure this configuration"},
	}
	for _, c := range cases {
		s, err := Likes.Apply(base, c.changes)
		if err != nil {
			t.Fatal(err)
		}
		_, ok := Likes.StudyFor(s)
		if gap := Likes.StudyGap(s); ok != c.ok || gap != c.gap {
			t.Errorf("%s: found %v, gap %q; want %v, %q", c.name, ok, gap, c.ok, c.gap)
		}
	}
	if runs := Likes.StudyRuns(); len(runs) != 9 || runs[7]["query"] != "prefetch" || runs[0]["profile"] != "django" {
		t.Errorf("study runs %v: want 9, the cached ones with prefetch, all on django", runs)
	}
}
