package timing

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

const msec = time.Millisecond

func TestJudge(t *testing.T) {
	type testCase struct {
		name              string
		got, floor, limit time.Duration
		want              Outcome
	}
	for _, tc := range []testCase{
		{"within the limit on a quiet host", 2 * msec, 1 * msec, 200 * msec, Pass},
		{"within the limit on a noisy host still passes", 190 * msec, 180 * msec, 200 * msec, Pass},
		{"over the limit on a quiet host fails", 400 * msec, 2 * msec, 200 * msec, Fail},
		{"over the limit, but the floor explains it", 290 * msec, 95 * msec, 200 * msec, Pass},
		{"over the limit on a host as slow as the limit", 655 * msec, 300 * msec, 200 * msec, TooNoisy},
		{"floor above a tenth of the limit", 400 * msec, 21 * msec, 200 * msec, TooNoisy},
		{"floor within a tenth of the limit", 400 * msec, 19 * msec, 200 * msec, Fail},
		// Seen beside a second audit: a trivial request's p50 of 7.9 ms and an
		// orchestration overhead of 80 ms against a 50 ms limit.
		{"a busy host slows the target's longer path", 80 * msec, 8 * msec, 50 * msec, TooNoisy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := Judge("p95", tc.got, tc.floor, tc.limit)
			assert.Equal(t, tc.want, j.Outcome, j.Reason)
			assert.NotEmpty(t, j.Reason)
		})
	}
}

func TestJudgeSuccessAndRate(t *testing.T) {
	ok := Summary{Requests: 500, Success: 1, Rate: 100}
	flaky := Summary{Requests: 500, Success: 0.98, Rate: 100, StatusCodes: map[string]int{"503": 10}, Errors: []string{"503 Service Unavailable"}}
	slow := Summary{Requests: 300, Success: 1, Rate: 60}
	assert.Equal(t, Pass, JudgeSuccess("x", ok, ok).Outcome)
	assert.Equal(t, Fail, JudgeSuccess("x", flaky, ok).Outcome)
	assert.Equal(t, TooNoisy, JudgeSuccess("x", flaky, flaky).Outcome, "errors the floor shares are the host's")
	starved := Summary{Requests: 500, Success: 1, Rate: 100, P95: 40 * msec}
	assert.Equal(t, TooNoisy, JudgeSuccess("x", flaky, starved).Outcome, "errors while a trivial request waits 40 ms may be the host's")
	assert.Equal(t, TooNoisy, JudgeSuccess("x", Summary{}, ok).Outcome, "nothing sent is no evidence")
	assert.Equal(t, Pass, JudgeRate("x", ok, ok, 100, 0.9).Outcome)
	assert.Equal(t, Fail, JudgeRate("x", slow, ok, 100, 0.9).Outcome)
	assert.Equal(t, TooNoisy, JudgeRate("x", slow, slow, 100, 0.9).Outcome)
}

func TestWorst(t *testing.T) {
	p, f, n := Judgement{Pass, "p"}, Judgement{Fail, "f"}, Judgement{TooNoisy, "n"}
	assert.Equal(t, Pass, Worst(p, p).Outcome)
	assert.Equal(t, TooNoisy, Worst(p, n).Outcome)
	assert.Equal(t, Fail, Worst(n, f, p).Outcome)
	assert.Equal(t, "f", Worst(n, f).Reason)
	assert.Equal(t, "f; f", Worst(f, f).Reason)
}

func TestConfirm(t *testing.T) {
	seq := func(outcomes ...Outcome) func(context.Context) Attempt {
		i := 0
		return func(context.Context) Attempt {
			o := outcomes[i]
			i++
			return Attempt{Judgement: Judgement{o, o.String()}}
		}
	}
	type testCase struct {
		name     string
		outcomes []Outcome
		want     Outcome
		attempts int
	}
	for _, tc := range []testCase{
		{"a pass is not re-measured", []Outcome{Pass}, Pass, 1},
		{"a failure that repeats stands", []Outcome{Fail, Fail}, Fail, 2},
		{"a failure that does not repeat is a pass", []Outcome{Fail, Pass}, Pass, 2},
		// Seen in a stress run: one busy moment made PRF-LAT-001 too noisy
		// (a trivial request's p95 of 27 ms); the next measurement settles it.
		{"a noisy moment is measured again", []Outcome{TooNoisy, Pass}, Pass, 2},
		{"a failure after a noisy moment needs a second one", []Outcome{TooNoisy, Fail, Fail}, Fail, 3},
		{"one failure between noisy moments is too noisy", []Outcome{TooNoisy, Fail, TooNoisy}, TooNoisy, 3},
		{"two failures around a noisy moment stand", []Outcome{Fail, TooNoisy, Fail}, Fail, 3},
		{"a host that stays noisy is too noisy", []Outcome{TooNoisy, TooNoisy, TooNoisy}, TooNoisy, 3},
		{"noise after a failure, then a pass, is a pass", []Outcome{Fail, TooNoisy, Pass}, Pass, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, attempts := Confirm(t.Context(), time.Millisecond, seq(tc.outcomes...))
			assert.Equal(t, tc.want, j.Outcome, j.Reason)
			assert.Len(t, attempts, tc.attempts)
		})
	}
}

func TestSignedRank(t *testing.T) {
	d := func(vs ...float64) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v * float64(msec))
		}
		return out
	}
	// All 8 pairs one way: the exact two-sided p is 2/2^8.
	r := SignedRank(d(60, 55, 70, 58, 62, 65, 59, 61))
	assert.InDelta(t, 2.0/256, r.P, 1e-12)
	assert.Equal(t, 8, r.N)
	assert.Equal(t, time.Duration(60.5*float64(msec)), r.Median)

	// Noise in both directions is not significant.
	r = SignedRank(d(80, -75, 3, -4, 150, -160, 1, -2))
	assert.Greater(t, r.P, 0.5)

	// A table value: n=10, W- = 3: five sign sets sum to 3 or less, p = 2*5/1024.
	r = SignedRank(d(1, 2, -3, 4, 5, 6, 7, 8, 9, 10))
	assert.InDelta(t, 10.0/1024, r.P, 1e-12)

	// Ties share ranks; zeros are dropped.
	r = SignedRank(d(0, 5, 5, -5, 5))
	assert.Equal(t, 4, r.N)
	assert.InDelta(t, 0.625, r.P, 1e-12) // W+ = 7.5 of 10 in 16 assignments: P(W+<=2.5)=5/16, two-sided 10/16

	r = SignedRank(nil)
	assert.Equal(t, 1.0, r.P)
	assert.False(t, math.IsNaN(r.P))
}

func TestRunInterleavesTheFloor(t *testing.T) {
	if testing.Short() {
		t.Skip("a 1 s load run on loopback")
	}
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(20 * msec)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer slow.Close()
	m := Run(t.Context(), Plan{
		Name: "test", Rate: 40, Duration: time.Second, Conns: 4,
		Targeter: vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodGet, URL: slow.URL + "/slow"}),
	})
	require.InDelta(t, 40, int(m.Target.Requests), 4)
	require.InDelta(t, 40, int(m.Floor.Requests), 4)
	assert.GreaterOrEqual(t, m.Target.P50, 20*msec)
	assert.Less(t, m.Floor.P50, 20*msec, "the floor is the in-process server, not the slow target")
	assert.Equal(t, 0.0, m.Target.Success)
	assert.Equal(t, 1.0, m.Floor.Success)
	assert.True(t, strings.Contains(m.String(), "host floor"))
}
