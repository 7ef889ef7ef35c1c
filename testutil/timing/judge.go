package timing

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mvpaudit/mvpaudit/audit"
)

// Outcome is how a timing judgement ended.
type Outcome int

// Outcomes. TooNoisy is neither a pass nor a failure: the check ends not
// evaluated with the reason.
const (
	Pass Outcome = iota
	Fail
	TooNoisy
)

func (o Outcome) String() string {
	switch o {
	case Pass:
		return "pass"
	case Fail:
		return "fail"
	default:
		return "too noisy"
	}
}

// Judgement is an outcome and the sentence that explains it (a finding
// when it failed, the not-evaluated reason when the host was too noisy).
type Judgement struct {
	Outcome Outcome
	Reason  string
}

// noiseShare is the largest floor, as a share of the limit, under which a
// failure can still be told from the host's own noise. A busy host slows a
// path of several processes (the target, its database, its cache, the
// provider) more than the trivial floor request, so the floor must stay a
// small part of the limit for a failure to be the target's own: seen on
// this 2-core machine beside a second audit, a trivial request's p50 of
// 7.9 ms came with an orchestration overhead of 80 ms (5 ms when quiet).
const noiseShare = 0.1

// NoisyFloor is the p95 of a trivial request above which the host is
// starved: errors of the target under load (a readiness probe's short
// dependency timeouts, say) can then be the host's, not the target's.
const NoisyFloor = 20 * time.Millisecond

// Judge judges one latency figure of the target (what, e.g. "p95 of GET
// /ready") against limit, given the same figure measured on the host's
// floor in the same run. A figure within the limit passes whatever the
// floor (noise only ever adds latency). Above it, the floor is subtracted;
// when the floor exceeds half the limit the host is too noisy to judge.
func Judge(what string, got, floor, limit time.Duration) Judgement {
	switch {
	case got <= limit:
		return Judgement{Pass, fmt.Sprintf("%s = %s, within %s (host floor %s)", what, ms(got), ms(limit), ms(floor))}
	case got-floor <= limit:
		// The floor's noise hit the target at least as hard: what is left
		// is at most the target's own.
		return Judgement{Pass, fmt.Sprintf("%s = %s, within %s once the host floor of %s is taken off", what, ms(got), ms(limit), ms(floor))}
	case float64(floor) > noiseShare*float64(limit):
		return Judgement{TooNoisy, fmt.Sprintf("host too noisy: floor %s = %s against a limit of %s (%s measured)", what, ms(floor), ms(limit), ms(got))}
	default:
		return Judgement{Fail, fmt.Sprintf("%s = %s, want <= %s (host floor %s: %s of the target's own)", what, ms(got), ms(limit), ms(floor), ms(got-floor))}
	}
}

// JudgeSuccess judges the share of 2xx answers, which must be all of them:
// JudgeErrors with no error allowed.
func JudgeSuccess(what string, target, floor Summary) Judgement {
	return JudgeErrors(what, target, floor, 0)
}

// JudgeErrors judges the share of answers that are not 2xx against
// maxPct: errors of the target are a failure only while the floor, sent in
// the same moments, had none and answered promptly.
func JudgeErrors(what string, target, floor Summary, maxPct float64) Judgement {
	errPct := (1 - target.Success) * 100
	switch {
	case target.Requests == 0:
		return Judgement{TooNoisy, what + ": no request was sent"}
	case errPct <= maxPct:
		return Judgement{Pass, fmt.Sprintf("%s: %.2f%% of %d answers not 2xx, at most %.1f%% allowed", what, errPct, target.Requests, maxPct)}
	case floor.Requests > 0 && floor.Success < 1:
		return Judgement{TooNoisy, fmt.Sprintf("host too noisy: the floor endpoint itself failed %.2f%% of %d requests (%v)",
			100*(1-floor.Success), floor.Requests, firstErrors(floor.Errors))}
	case floor.P95 > NoisyFloor:
		return Judgement{TooNoisy, fmt.Sprintf("host too noisy: %s had %.2f%% 2xx while a trivial request's p95 was %s (over %s): the errors may be the host's",
			what, target.Success*100, ms(floor.P95), ms(NoisyFloor))}
	default:
		return Judgement{Fail, fmt.Sprintf("%s: %.2f%% of answers not 2xx, want at most %.1f%% (status codes %v, errors %v)",
			what, errPct, maxPct, target.StatusCodes, firstErrors(target.Errors))}
	}
}

// JudgeRate judges the achieved request rate against a share of the
// requested one: a shortfall that the floor shares is the host's (the load
// generator could not keep up), not the target's.
func JudgeRate(what string, target, floor Summary, requested int, minShare float64) Judgement {
	want := float64(requested) * minShare
	switch {
	case target.Rate >= want:
		return Judgement{Pass, fmt.Sprintf("%s: achieved %.1f req/s of %d", what, target.Rate, requested)}
	case floor.Requests > 0 && floor.Rate < want:
		return Judgement{TooNoisy, fmt.Sprintf("host too noisy: the load generator reached only %.1f req/s of %d against the floor endpoint", floor.Rate, requested)}
	default:
		return Judgement{Fail, fmt.Sprintf("%s: achieved %.1f req/s, want at least %.0f%% of the requested %d/s (floor endpoint: %.1f req/s)",
			what, target.Rate, minShare*100, requested, floor.Rate)}
	}
}

// Worst combines judgements: any failure fails, else any noise makes the
// whole too noisy, else it passes.
func Worst(js ...Judgement) Judgement {
	out := Judgement{Outcome: Pass}
	for _, j := range js {
		if j.Outcome == Pass {
			continue
		}
		if out.Outcome == Pass || j.Outcome == Fail && out.Outcome == TooNoisy {
			out = j
		} else if j.Outcome == out.Outcome {
			out.Reason += "; " + j.Reason
		}
	}
	if out.Outcome == Pass {
		var reasons []string
		for _, j := range js {
			reasons = append(reasons, j.Reason)
		}
		out.Reason = strings.Join(reasons, "; ")
	}
	return out
}

// Attempt is one measurement and its judgement, kept for the evidence.
type Attempt struct {
	Judgement
	Evidence    string
	Measurement Measurement // of a load run, when the attempt was one
}

// maxAttempts bounds the measurements of one judgement.
const maxAttempts = 3

// Confirm measures until the outcome is settled: a pass settles it at once
// (noise only ever slows a target down), a failure only when a second
// measurement after a pause fails too, and a measurement too noisy to
// judge is taken again after a pause (a busy moment of the host passes).
// After maxAttempts without a pass or two failures the judgement is too
// noisy. It returns the final judgement and every attempt.
func Confirm(ctx context.Context, pause time.Duration, measure func(ctx context.Context) Attempt) (Judgement, []Attempt) {
	var attempts []Attempt
	var failures []string
	for len(attempts) < maxAttempts {
		if len(attempts) > 0 {
			select {
			case <-ctx.Done():
				last := attempts[len(attempts)-1]
				return Judgement{TooNoisy, "interrupted before the outcome was settled: " + last.Reason}, attempts
			case <-time.After(pause):
			}
		}
		a := measure(ctx)
		attempts = append(attempts, a)
		switch a.Outcome {
		case Pass:
			if len(attempts) == 1 {
				return a.Judgement, attempts
			}
			return Judgement{Pass, a.Reason + " (earlier measurements did not settle it: " + reasons(attempts[:len(attempts)-1]) + ")"}, attempts
		case Fail:
			failures = append(failures, a.Reason)
			if len(failures) == 2 {
				return Judgement{Fail, a.Reason + " (confirmed: an earlier measurement failed too: " + failures[0] + ")"}, attempts
			}
		}
	}
	last := attempts[len(attempts)-1]
	return Judgement{TooNoisy, fmt.Sprintf("%s (%d measurements, none settled it)", last.Reason, len(attempts))}, attempts
}

func reasons(as []Attempt) string {
	var out []string
	for _, a := range as {
		out = append(out, a.Outcome.String()+": "+a.Reason)
	}
	return strings.Join(out, "; ")
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func firstErrors(errs []string) []string { return errs[:min(3, len(errs))] }

// Apply ends a check by its judgement: a failure is a finding, noise ends
// the check not evaluated with the reason, a pass adds the reason as
// evidence.
func Apply(t testing.TB, j Judgement) {
	t.Helper()
	switch j.Outcome {
	case Fail:
		t.Error(j.Reason)
	case TooNoisy:
		audit.NotEvaluated(t, j.Reason)
	default:
		audit.Evidence(t, "%s", j.Reason)
	}
}
