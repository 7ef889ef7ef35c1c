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

// stacksAtOnce is how many stacks the self-test audits at once unless
// -parallel says otherwise. A stack mostly waits (throttle windows,
// provider timeouts, restarts): two at a time left a third of the two
// cores idle here, six saturated them. Three keep both busy while the
// clean build's timing checks still see a host they can measure on.
const stacksAtOnce = 3

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

// startOrder starts parallel subtests in the order they joined, n at a
// time, when orderedStarts is set; otherwise go test's -parallel alone
// decides.
type startOrder struct {
	tickets []chan struct{}
	slots   chan struct{}
}

// join is called by a subtest before t.Parallel: the subtests that a -run
// filter leaves out never join, so they take no turn.
func (o *startOrder) join() int {
	o.tickets = append(o.tickets, make(chan struct{}))
	return len(o.tickets) - 1
}

// start hands out the turns, n at a time, once every subtest has joined.
func (o *startOrder) start(n int) {
	if !orderedStarts {
		return
	}
	o.slots = make(chan struct{}, n)
	tickets := o.tickets
	go func() {
		for _, t := range tickets {
			o.slots <- struct{}{}
			close(t)
		}
	}()
}

// wait blocks until the subtest's turn and returns what ends it.
func (o *startOrder) wait(turn int) func() {
	if !orderedStarts {
		return func() {}
	}
	<-o.tickets[turn]
	return func() { <-o.slots }
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
				turn := order.join()
				t.Parallel()
				defer order.wait(turn)()
				mu.Lock()
				ran = append(ran, i)
				mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			})
		}
		order.start(1)
	})
	assert.Equal(t, []int{0, 1, 2, 3, 4, 5}, ran)
}
