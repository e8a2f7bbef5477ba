//go:build !unix

package engine

import "time"

// processCPU is not measured on this platform; health shows 0.
func processCPU() time.Duration { return 0 }
