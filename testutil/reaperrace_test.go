package testutil

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIsReaperShutdown(t *testing.T) {
	// The error CI printed when a binary met the session's reaper as it removed itself.
	ci := errors.New(`generic container: create container: reaper: from container "b6450fae": wait for reaper b6450fae: unexpected container status "removing"`)
	assert.True(t, isReaperShutdown(ci))
	assert.False(t, isReaperShutdown(errors.New(`generic container: create container: image "mvpaudit/orchestrator:dev" not found`)))
	assert.False(t, isReaperShutdown(errors.New(`wait until ready: container exited with code 1 ("removing" not involved)`)))
}

func TestWithReaperRetry(t *testing.T) {
	shutdown := errors.New(`create container: reaper: wait for reaper 1234: unexpected container status "exited"`)
	calls := 0
	v, err := withReaperRetry(context.Background(), func() (int, error) {
		calls++
		if calls == 1 {
			return 0, shutdown
		}
		return 7, nil
	})
	assert.NoError(t, err)
	assert.Equal(t, 7, v)
	assert.Equal(t, 2, calls, "a reaper met while stopping is tried again")

	calls = 0
	other := errors.New("create container: port already allocated")
	_, err = withReaperRetry(context.Background(), func() (int, error) { calls++; return 0, other })
	assert.ErrorIs(t, err, other)
	assert.Equal(t, 1, calls, "any other failure surfaces at once")
}
