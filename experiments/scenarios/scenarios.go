// Package scenarios holds the study's flows as scenario files, embedded
// in the binary so that `perflab --scenario likes` finds one by name.
// They are plain YAML in this directory, to copy as a start.
package scenarios

import (
	"embed"
	"io/fs"
	"path"
	"slices"
	"strings"
)

//go:embed *.yaml
var files embed.FS

// Names lists the embedded scenarios, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(files, ".")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), path.Ext(e.Name())))
	}
	slices.Sort(names)
	return names
}

// Read returns the embedded scenario of that name (likes, static), with
// the file name messages call it by.
func Read(name string) (file string, data []byte, ok bool) {
	file = name + ".yaml"
	data, err := files.ReadFile(file)
	return file, data, err == nil
}
