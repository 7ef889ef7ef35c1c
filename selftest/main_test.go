package selftest

import (
	"flag"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// stackUnits is how much audit the self-test runs at once unless
// -parallel says otherwise, in units: an audit with timing checks of the
// performance section takes two (it needs a host it can measure on), any
// other one. A stack mostly waits (throttle windows, provider timeouts,
// restarts): two light stacks at a time left a third of the two cores
// idle here. At five, once a stack cost less (volumes, section binaries
// built once), the cores were still a quarter idle (702 s, 982 CPU-s);
// six run three full audits at once, then six light stacks.
const stackUnits = 6

// orderedStarts is set when the self-test, not go test's -parallel,
// decides when each stack starts: go test releases paused parallel
// subtests in no particular order, and the longest audits, started last,
// ran alone at the end.
var orderedStarts bool

func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		// Every stack job may wait for its turn while holding one of go
		// test's slots: there must be a slot for each.
		_ = flag.Set("test.parallel", "1000")
		orderedStarts = true
	}
	os.Exit(m.Run())
}

// startOrder starts parallel subtests in the order they joined, as many
// at a time as their weights fit in the capacity, when orderedStarts is
// set; otherwise go test's -parallel alone decides.
type startOrder struct {
	tickets []ticket
	units   chan struct{}
}

type ticket struct {
	go_    chan struct{}
	weight int
}

// join is called by a subtest before t.Parallel: the subtests that a -run
// filter leaves out never join, so they take no turn. weight is how many
// units of the capacity the subtest holds while it runs.
func (o *startOrder) join(weight int) int {
	o.tickets = append(o.tickets, ticket{go_: make(chan struct{}), weight: max(weight, 1)})
	return len(o.tickets) - 1
}

// start hands out the turns in order once every subtest has joined: a turn
// waits until its weight fits (a heavy subtest holds back the ones after
// it, so that the order stays longest first).
func (o *startOrder) start(capacity int) {
	if !orderedStarts {
		return
	}
	o.units = make(chan struct{}, capacity)
	tickets := o.tickets
	go func() {
		for _, t := range tickets {
			for range min(t.weight, capacity) {
				o.units <- struct{}{}
			}
			close(t.go_)
		}
	}()
}

// wait blocks until the subtest's turn and returns what ends it.
func (o *startOrder) wait(turn int) func() {
	if !orderedStarts {
		return func() {}
	}
	t := o.tickets[turn]
	<-t.go_
	return func() {
		for range min(t.weight, cap(o.units)) {
			<-o.units
		}
	}
}

func TestStartOrderStartsSubtestsInTheOrderTheyJoined(t *testing.T) {
	if !orderedStarts {
		t.Skip("-parallel given: go test orders the starts")
	}
	var (
		order startOrder
		mu    sync.Mutex
		ran   []int
	)
	t.Run("jobs", func(t *testing.T) {
		for i := range 6 {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				turn := order.join(1 + i%2)
				t.Parallel()
				defer order.wait(turn)()
				mu.Lock()
				ran = append(ran, i)
				mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			})
		}
		order.start(2)
	})
	assert.Equal(t, []int{0, 1, 2, 3, 4, 5}, ran)
}

func TestStartOrderHoldsAHeavySubtestsUnits(t *testing.T) {
	if !orderedStarts {
		t.Skip("-parallel given: go test orders the starts")
	}
	var (
		order          startOrder
		mu             sync.Mutex
		running, worst int
	)
	t.Run("jobs", func(t *testing.T) {
		for i := range 5 {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				weight := 1
				if i == 0 {
					weight = 2
				}
				turn := order.join(weight)
				t.Parallel()
				defer order.wait(turn)()
				mu.Lock()
				running += weight
				worst = max(worst, running)
				mu.Unlock()
				time.Sleep(30 * time.Millisecond)
				mu.Lock()
				running -= weight
				mu.Unlock()
			})
		}
		order.start(3)
	})
	assert.Equal(t, 3, worst, "the units fill the capacity and never exceed it")
}
