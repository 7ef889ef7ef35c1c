// Package uncachedfixture is a stub test package, built only with the
// auditfixtures tag, that calls testutil.Uncached as a section's TestMain
// and checks do: testutil's TestUncachedDefeatsTheTestCache runs it twice
// and the second run must not be a cached replay.
package uncachedfixture
