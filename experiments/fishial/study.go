package fishial

// StudyRow is one line of the study's table.
type StudyRow struct {
	Strategy  string
	Resources string
	Workers   int
	Seconds   float64
	Speedup   float64
}

// Study is the study's table: 40 images against its mock.
var Study = []StudyRow{
	{StrategySequential, "1 thread", 1, 34.59, 1.0},
	{StrategyMultiprocess, "4 processes", 4, 9.31, 3.7},
	{StrategyDistributed, "16 nodes", 16, 2.76, 12.5},
	{StrategyAsync, "1 thread", 1, 0.86, 40.2},
}

// StudyImages is the study's batch size.
const StudyImages = 40

// StudyFor returns the study's row for a strategy.
func StudyFor(strategy string) (StudyRow, bool) {
	for _, r := range Study {
		if r.Strategy == strategy {
			return r, true
		}
	}
	return StudyRow{}, false
}

// Lesson is the closing note: the study's lesson, and the CPU
// column it could not show.
const Lesson = `The study's lesson: for network-I/O-bound work, non-blocking async beats
adding processes or machines, which mostly buy CPUs that sit waiting.
Waiting costs no CPU, but every extra process or node does: each one
starts a runtime, holds connections and polls its queue, and something
must coordinate them (a queue and a lock, a Redis), so the CPU spent per
image grows with the workers while the work itself (hash a photo, send
it, read an answer) stays the same. One thread with every image in
flight finishes first and spends the least.`
