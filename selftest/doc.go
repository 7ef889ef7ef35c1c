// Package selftest proves the audit: it plants each defect of a corpus in
// a stack (a switch of the orchestrator's defect build, or a bad setting
// in the audited env file), runs the sections that should notice through
// the real runner, reads the stream with the report package, and asserts
// that exactly the expected checks fail and the verdict is not GO. The
// clean build must give GO with no failure at all.
//
// It also breaks the audit itself (a dependency killed mid-run, a missing
// image, a section that does not compile, a panic, a timeout, a truncated
// stream, a critical check dropped) and asserts that none of these can end
// in GO.
//
// The detection matrix, docs/DETECTION.md, is written from what a run saw:
//
//	go test ./selftest -run TestSelftest -update -timeout 40m
package selftest
