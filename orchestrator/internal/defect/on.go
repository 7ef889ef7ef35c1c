//go:build defects

package defect

import (
	"net/http"
	"net/http/pprof"
)

// Built reports whether this binary has the defect switches.
const Built = true

var enabled = map[Name]bool{}

// On reports whether defect n is switched on.
func On(n Name) bool { return enabled[n] }

// Load switches on the listed defects (call once, before serving).
func Load(list string) error {
	names, err := parse(list)
	if err != nil {
		return err
	}
	for _, n := range names {
		enabled[n] = true
	}
	return nil
}

// Pprof is net/http/pprof's index and profiles, to be mounted at
// /debug/pprof/ on the public port by the pprof-public defect.
func Pprof() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("/debug/pprof/", pprof.Index)
	m.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	m.HandleFunc("/debug/pprof/profile", pprof.Profile)
	m.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	m.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return m
}
