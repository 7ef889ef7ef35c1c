//go:build !defects

package defect

import (
	"fmt"
	"net/http"
)

// Built reports whether this binary has the defect switches.
const Built = false

// On reports whether defect n is switched on: never, in this build.
func On(Name) bool { return false }

// Load refuses any defect: this build has none to switch on.
func Load(list string) error {
	names, err := parse(list)
	if err != nil {
		return err
	}
	if len(names) > 0 {
		return fmt.Errorf("%s is set but this is not a defect build (build tag \"defects\"); unset it", EnvKey)
	}
	return nil
}

// Pprof is the profiler's handler in the defect build; nil here.
func Pprof() http.Handler { return nil }
