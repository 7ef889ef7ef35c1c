// Package timing measures time on a host the audit does not own.
//
// A latency or load figure taken on a busy CI runner (or beside a second
// audit) mixes the target's behaviour with the host's own noise. Every
// timing check therefore measures the host's noise floor in the same run
// and judges with it:
//
//   - Load runs interleave the target's requests with as many requests to a
//     trivial endpoint (the provider stub's /health in the stack, an
//     in-process loopback server otherwise), so both see the same moments
//     of the run ([Run]).
//   - A figure is judged against its limit plus the floor; when the floor
//     itself is of the order of the limit, nothing can be told from noise
//     and the outcome is [TooNoisy], never a pass or a failure ([Judge]).
//   - A failure is confirmed by measuring again after a pause; it stands
//     only if it repeats, and a measurement too noisy to judge is taken
//     again, at most three in all ([Confirm]).
//   - Timing side channels compare interleaved paired samples with an
//     exact Wilcoxon signed-rank test, not two means ([SignedRank]).
package timing
