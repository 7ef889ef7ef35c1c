package security

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestRouteVariantsOfAnyRoute: a profile route ending in "/" once crashed
// the section (index out of range), and five checks went missing.
func TestRouteVariantsOfAnyRoute(t *testing.T) {
	v := routeVariants("/v1/models/")
	assert.Equal(t, "/v1//models/", v["inner double slash"])
	assert.Equal(t, "/v1/%6dodels/", v["encoded first letter"])
	assert.Equal(t, "/v1/models//", v["trailing slash"])

	v = routeVariants("/gw/v1/me")
	assert.Equal(t, "/gw/v1//me", v["inner double slash"])
	assert.Equal(t, "/gw/v1/%6de", v["encoded first letter"])

	v = routeVariants("/")
	assert.Equal(t, "//", v["trailing slash"])
	assert.NotContains(t, v, "encoded first letter")
}
