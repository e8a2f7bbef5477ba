package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// maxRepeat bounds --repeat: beyond it, longer runs say more than more
// of them.
const maxRepeat = 1000

// repeatPlan is how often and in which order a headless session runs its
// configurations.
type repeatPlan struct {
	repeat  int
	shuffle *rand.Rand // nil: in order
	seed    uint64
}

// parseRepeat checks --repeat, --shuffle and --shuffle-seed for a session
// of configs configurations; a shuffled one says its seed on stderr.
func parseRepeat(o *options, configs int, stderr io.Writer) (repeatPlan, error) {
	p := repeatPlan{repeat: o.repeat}
	if p.repeat < 1 || p.repeat > maxRepeat {
		return p, usagef("--repeat must be in 1..%d, got %d", maxRepeat, o.repeat)
	}
	if !o.shuffle && !o.set["shuffle-seed"] {
		return p, nil
	}
	if p.repeat*configs < 2 {
		return p, usagef("--shuffle orders several runs; add --repeat N or --sweep knob=v1,v2")
	}
	p.seed = o.shuffleSeed
	if !o.set["shuffle-seed"] {
		p.seed = uint64(time.Now().UnixNano())
	}
	p.shuffle = rand.New(rand.NewPCG(p.seed, p.seed>>32|1))
	fmt.Fprintf(stderr, "perflab: runs shuffled with seed %d (--shuffle-seed %d repeats this order)\n", p.seed, p.seed)
	return p, nil
}
