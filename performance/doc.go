// Package performance is the audit section that measures latency, error
// rate, throughput and memory under bounded load against the stack's own
// addresses only. Thresholds come from the audit policy.
//
// Needs: the target's base URL; the provider stub for fixed-latency
// orchestration runs; container control for memory sampling.
package performance
