package audit

// Policy is the verdict policy: how results become GO, CONDITIONAL GO or
// NO-GO, and the thresholds of measured checks.
type Policy struct {
	Version int
	// PassThreshold is the minimum weighted score (0..100) for GO.
	PassThreshold float64
	// SeverityWeights weigh checks in the score.
	SeverityWeights map[Severity]float64
	// Thresholds of measured checks, keyed "<check ID>.<metric>", e.g.
	// "PRF-LAT-001.p95_ms".
	Thresholds map[string]float64
}

// DefaultPolicy is the built-in policy.
func DefaultPolicy() Policy {
	return Policy{
		Version:         1,
		PassThreshold:   90,
		SeverityWeights: map[Severity]float64{Critical: 10, High: 5, Medium: 2, Low: 1},
		Thresholds: map[string]float64{
			"PRF-LAT-001.p95_ms": 200,
		},
	}
}

// Threshold returns the policy's threshold for one metric of this check,
// or def when the policy names none.
func (c Check) Threshold(metric string, def float64) float64 {
	if v, ok := DefaultPolicy().Thresholds[c.ID+"."+metric]; ok {
		return v
	}
	return def
}
