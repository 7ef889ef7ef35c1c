package selftest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Batch is a set of planted defects audited on one stack. A stack costs
// the host about 45 CPU-seconds whether it carries one defect or six, and
// the self-test is bound by CPU, not by waiting: sharing is what lets the
// whole corpus run in CI.
//
// Sharing must not blur which check caught what, so a batch holds defects
// of one kind that run the same sections under the same dialect, that
// expect pairwise different checks (a failed check is credited to the one
// defect that expects it), that change different things (Area: two defects
// of one code path could hide or imitate each other) and, for
// configuration defects, different settings. A check that fails and that
// no member expects is unrelated, as on a stack of one.
type Batch struct {
	Name    string
	Defects []Defect
}

// MaxBatch is the most defects one stack carries: enough to share the cost
// of a stack, few enough that a batch that goes wrong is read in a minute.
// At 9 the security defects fit four stacks (and one for each error-answer
// defect no batch can take), against six at 6.
const MaxBatch = 9

// Batches groups the corpus into batches, in the corpus's order. A defect
// that may share with no other, or solo, gets a batch of its own named
// after it.
func Batches(corpus []Defect, solo bool) []Batch {
	var out []Batch
	shared := map[string]int{} // batches per group, for their names
	for _, d := range corpus {
		placed := false
		if !solo && shareable(d) {
			for i := range out {
				if fits(out[i], d) {
					out[i].Defects = append(out[i].Defects, d)
					placed = true
					break
				}
			}
		}
		if !placed {
			out = append(out, Batch{Defects: []Defect{d}})
		}
	}
	for i := range out {
		b := &out[i]
		if len(b.Defects) == 1 {
			b.Name = b.Defects[0].Key()
			continue
		}
		group := groupOf(b.Defects[0])
		shared[group]++
		b.Name = fmt.Sprintf("shared-%s-%d", group, shared[group])
	}
	return out
}

// Shared reports whether the batch carries more than one defect.
func (b Batch) Shared() bool { return len(b.Defects) > 1 }

// Keys are the members' keys, for logs.
func (b Batch) Keys() []string {
	var out []string
	for _, d := range b.Defects {
		out = append(out, d.Key())
	}
	return out
}

// Variant is the audit run that plants every member at once.
func (b Batch) Variant() Variant {
	v := b.Defects[0].Variant()
	if !b.Shared() {
		return v
	}
	v.Name = b.Name
	if b.Defects[0].Kind == Configuration {
		for _, d := range b.Defects[1:] {
			maps.Copy(v.Env, d.Env) // no two members change one setting
		}
		return v
	}
	var names []string
	for _, d := range b.Defects {
		names = append(names, d.Name)
	}
	v.Env["ORCHESTRATOR_DEFECTS"] = strings.Join(names, ",")
	return v
}

// Expects reports whether a member of the batch expects the check.
func (b Batch) Expects(id string) bool {
	for _, d := range b.Defects {
		if slices.Contains(d.Expect, id) {
			return true
		}
	}
	return false
}

// shareable: a defect without an area (a setting such as APP_ENV that
// changes what every check sees) keeps a stack of its own.
func shareable(d Defect) bool { return d.Area != "" }

// groupOf is what members of one batch have in common: the kind, the
// dialect and the sections run.
func groupOf(d Defect) string {
	g := strings.Join(d.Sections, "+")
	if d.Dialect != "" {
		g = d.Dialect + "-" + g
	}
	if d.Kind == Configuration {
		g = "settings-" + g
	}
	return g
}

func fits(b Batch, d Defect) bool {
	if len(b.Defects) >= MaxBatch || groupOf(b.Defects[0]) != groupOf(d) {
		return false
	}
	for _, m := range b.Defects {
		if !shareable(m) || m.Area == d.Area || slices.ContainsFunc(d.Expect, func(id string) bool { return slices.Contains(m.Expect, id) }) {
			return false
		}
		for k := range d.Env {
			if _, both := m.Env[k]; both {
				return false
			}
		}
	}
	return true
}
