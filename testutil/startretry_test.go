package testutil

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIsTransientStart(t *testing.T) {
	// The error CI printed when a binary met the session's reaper as it removed itself.
	ci := errors.New(`generic container: create container: reaper: from container "b6450fae": wait for reaper b6450fae: unexpected container status "removing"`)
	assert.True(t, isTransientStart(ci))
	assert.True(t, isTransientStart(errors.New(`generic container: create container: reaper: new reaper: run container: container start: Error response from daemon: driver failed programming external connectivity on endpoint reaper_dc74 (d52d): Error starting userland proxy: listen tcp4 0.0.0.0:32778: bind: address already in use: could not start container`)))
	assert.False(t, isTransientStart(errors.New(`generic container: create container: image "mvpaudit/orchestrator:dev" not found`)))
	assert.False(t, isTransientStart(errors.New(`wait until ready: container exited with code 1 ("removing" not involved)`)))
}

func TestWithStartRetry(t *testing.T) {
	shutdown := errors.New(`create container: reaper: wait for reaper 1234: unexpected container status "exited"`)
	calls := 0
	v, err := withStartRetry(context.Background(), func() (int, error) {
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
	_, err = withStartRetry(context.Background(), func() (int, error) { calls++; return 0, other })
	assert.ErrorIs(t, err, other)
	assert.Equal(t, 1, calls, "any other failure surfaces at once")
}
