//go:build !unix

package server

import "time"

func burn(d time.Duration) {
	if d > 0 {
		burnWall(d)
	}
}
