package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// durationValue is a duration flag whose errors say what to type: a bare
// number lacks its unit, which the flag package calls a "parse error".
type durationValue time.Duration

func (d *durationValue) String() string { return time.Duration(*d).String() }

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err == nil {
		*d = durationValue(v)
		return nil
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return fmt.Errorf("give a unit, e.g. %ss or 2m", s)
	}
	return errors.New("not a duration; give a number and a unit, e.g. 5s, 250ms or 2m")
}

// durationVar defines a duration flag on fs, as fs.DurationVar does.
func durationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var((*durationValue)(p), name, usage)
}

// byteSize is a size flag: a number of bytes with an optional unit, as in
// 512KiB, 8MiB or 4MB.
type byteSize int

// maxByteSize bounds a size flag: a body kept per connection above a
// gigabyte is a typo, not a plan.
const maxByteSize = 1 << 30

var sizeUnits = []struct {
	suffix string
	bytes  float64
}{
	// Longest first, so "KiB" is not read as "B".
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"b", 1},
}

func (b *byteSize) String() string { return formatSize(int(*b)) }

func (b *byteSize) Set(s string) error {
	num, mult := strings.TrimSpace(s), 1.0
	lower := strings.ToLower(num)
	for _, u := range sizeUnits {
		if strings.HasSuffix(lower, u.suffix) {
			num, mult = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.bytes
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return errors.New("not a size; give a number of bytes with a unit, e.g. 512KiB, 8MiB or 4MB")
	}
	n := v * mult
	switch {
	case n < 1:
		return errors.New("must be at least 1 byte")
	case n > maxByteSize:
		return fmt.Errorf("at most %s", formatSize(maxByteSize))
	}
	*b = byteSize(math.Round(n))
	return nil
}

// formatSize writes n bytes in the largest binary unit that divides it.
func formatSize(n int) string {
	for _, u := range []struct {
		suffix string
		bytes  int
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.bytes && n%u.bytes == 0 {
			return strconv.Itoa(n/u.bytes) + u.suffix
		}
	}
	return strconv.Itoa(n) + "B"
}
