package testutil

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadEventsFollowsTheEventStreamFormat(t *testing.T) {
	src := ": a comment\r\n" +
		"data: {\"delta\":\"a\"}\r\n\r\n" +
		"event: error\ndata: {\"error\":{}}\n\n" +
		"data: one\ndata: two\n\n" +
		"event: ping\n\n" + // no data: not an event
		"data:[DONE]" // the last line has no newline
	var got []SSEEvent
	require.NoError(t, readEvents(strings.NewReader(src), func(ev SSEEvent) bool { got = append(got, ev); return true }))
	assert.Equal(t, []SSEEvent{
		{Data: `{"delta":"a"}`}, {Name: "error", Data: `{"error":{}}`}, {Data: "one\ntwo"}, {Data: "[DONE]"},
	}, got)

	got = nil
	require.NoError(t, readEvents(strings.NewReader(src), func(ev SSEEvent) bool { got = append(got, ev); return false }))
	assert.Len(t, got, 1, "the reader stops when told")
}
