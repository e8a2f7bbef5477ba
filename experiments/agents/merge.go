package agents

// Merging the agents' health into the run's.

import "perflab/engine"

// stateOf sums the agents' cumulative counts and health.
func stateOf(agents []*runAgent, load engine.Load) engine.TallyState {
	st := engine.TallyState{Load: load, Statuses: map[int]int64{}}
	checks := map[string]int{}
	mixed := false
	for i, a := range agents {
		m := a.last
		st.Errors.Connect += m.Errors.Connect
		st.Errors.Timeout += m.Errors.Timeout
		st.Errors.Dropped += m.Errors.Dropped
		st.Errors.TooLarge += m.Errors.TooLarge
		st.Errors.IO += m.Errors.IO
		st.Errors.Status += m.Errors.Status
		st.Errors.Check += m.Errors.Check
		for code, n := range m.Statuses {
			st.Statuses[code] += n
		}
		for _, ch := range m.Checks {
			if i, ok := checks[ch.Name+"\x00"+ch.Step]; ok {
				st.Checks[i].Passed += ch.Passed
				st.Checks[i].Failed += ch.Failed
				continue
			}
			checks[ch.Name+"\x00"+ch.Step] = len(st.Checks)
			st.Checks = append(st.Checks, ch)
		}
		h := m.Health
		st.Health.AchievedRate += h.AchievedRate
		st.Health.TargetRate += h.TargetRate
		st.Health.InFlight += h.InFlight
		st.Health.CPU += h.CPU
		st.Health.Cores += h.Cores
		st.Health.Loops += h.Loops
		st.Health.Missed += h.Missed
		st.Health.Backlog += h.Backlog
		st.Health.SendLagP50 = max(st.Health.SendLagP50, h.SendLagP50)
		st.Health.SendLagP99 = max(st.Health.SendLagP99, h.SendLagP99)
		if st.Health.Warning == "" {
			st.Health.Warning = h.Warning
		}
		// One agent whose pacer was refused real time says so for all,
		// and so does one whose loop reads and writes call by call.
		if p := h.PacerPriority; p != "" && (st.Health.PacerPriority == "" || st.Health.PacerPriority == engine.PacerRealtime) {
			st.Health.PacerPriority = p
		}
		if io := h.LoopIO; io != "" && (st.Health.LoopIO == "" || st.Health.LoopIO == engine.LoopIOBatched) {
			st.Health.LoopIO = io
		}
		// The engine path is the agents' own when they all took the same
		// (else the table says each one's).
		if i == 0 {
			st.Health.Path = h.Path
		} else if st.Health.Path != h.Path {
			mixed = true
		}
		if st.Load.Stages == 0 {
			st.Load.Stage, st.Load.Stages, st.Load.Overridden = m.Load.Stage, m.Load.Stages, m.Load.Overridden
		}
	}
	if mixed {
		st.Health.Path = ""
	}
	return st
}
