//go:build !unix

package server

import "os"

func newBoard(dir string) (*board, *os.File, error) { return nil, nil, errNotUnix }

func mapBoard(f *os.File) (*board, error) { return nil, errNotUnix }
