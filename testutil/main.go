package testutil

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// Main is the body of a section's TestMain. It provides the Target (a stack
// another process started, an external deployment, or a private stack it
// starts and removes), runs the tests, and returns the exit code:
//
//	var target *testutil.Target
//
//	func TestMain(m *testing.M) { os.Exit(testutil.Main(m, &target)) }
//
// In -short mode no target is provided and checks skip (see Use). If the
// target cannot be provided the error goes to stderr and the package fails
// without test events, which the report treats as incomplete evidence. An
// external target that does not answer ([Reachable]) is such a case: one
// line, and no check runs.
func Main(m *testing.M, target **Target) int {
	flag.Parse()
	if f := flag.Lookup("test.run"); f != nil {
		if err := CheckRunPattern(f.Value.String()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	if testing.Short() {
		return m.Run()
	}
	// A live result is never replayed from go test's cache; the last call
	// (deferred first, so it runs after the stack's removal) dates the file.
	Uncached()
	defer Uncached()
	t, closeFn, err := Provide(context.Background())
	if err != nil {
		fmt.Fprintf(os.Stderr, "audit target: %v\n", err)
		return 1
	}
	defer closeFn()
	*target = t
	return m.Run()
}

// checkID is a check ID in the catalog's hyphen form.
var checkID = regexp.MustCompile(`(FUN|SEC|INF|REL|DEP|PRF)-[A-Z]+-\d{3}`)

// CheckRunPattern refuses a -run pattern that names a check by its ID
// (SEC-JWT-004): test functions spell it with underscores, and the
// pattern would select nothing, after a stack was started for it.
func CheckRunPattern(pattern string) error {
	if !checkID.MatchString(pattern) {
		return nil
	}
	fixed := checkID.ReplaceAllStringFunc(pattern, func(id string) string { return strings.ReplaceAll(id, "-", "_") })
	return fmt.Errorf("-run %s names a check ID; test names use underscores: -run %s", pattern, fixed)
}

// Provide resolves the target from the environment (see doc.go) and returns
// a function that releases it, removing any containers it started.
func Provide(ctx context.Context) (*Target, func(), error) {
	cfg, err := ConfigFromEnv()
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	switch cfg.Mode() {
	case ModeExternal:
		if err := Reachable(ctx, cfg); err != nil {
			return nil, nil, err
		}
		if cfg.ComposeFile != "" {
			applyDockerDefaults(ctx, cfg.Verbose) // one-off containers beside the project's
		}
		t, err := External(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		return t, t.Close, nil
	case ModeShared:
		d, err := DecodeDescriptor(cfg.StackJSON)
		if err != nil {
			return nil, nil, err
		}
		applyDockerDefaults(ctx, cfg.Verbose)
		t, err := Attach(ctx, cfg, d)
		if err != nil {
			return nil, nil, err
		}
		return t, t.Close, nil
	default:
		stack, err := StartStack(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		for _, n := range stack.Notes {
			fmt.Fprintln(os.Stderr, "note:", n)
		}
		t, err := Attach(ctx, cfg, stack.Descriptor)
		if err != nil {
			return nil, nil, errors.Join(err, stack.Close(context.Background()))
		}
		t.Mode = ModeHermetic
		return t, func() {
			t.Close()
			if err := stack.Close(context.Background()); err != nil {
				fmt.Fprintln(os.Stderr, "remove stack:", err)
			}
		}, nil
	}
}

// Use returns the target for a check, skipping the check when there is none
// (-short mode).
func Use(tb testing.TB, t *Target) *Target {
	tb.Helper()
	if t == nil {
		tb.Skip("not evaluated: no audit target (-short mode starts no stack)")
	}
	Uncached()
	return t
}

// Need skips the check as not evaluated when the target lacks a capability.
func (t *Target) Need(tb testing.TB, caps ...Capability) {
	tb.Helper()
	for _, c := range caps {
		if !t.Has(c) {
			tb.Skip((&UnavailableError{Capability: c}).Error())
		}
	}
}
