package security

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mvpaudit/mvpaudit/audit"
)

func TestCORSFaultIsCodeWhenTheAllowListDoesNotAskForIt(t *testing.T) {
	kind, why := corsFault("ALLOWED_ORIGINS_SETTING", []string{"https://app.example"}, []string{"null", "https://evil.example", "null"})
	assert.Equal(t, audit.Code, kind)
	assert.Equal(t, "ALLOWED_ORIGINS_SETTING allows only https://app.example, yet https://evil.example, null was admitted: the code does not follow its own allow-list", why)

	kind, _ = corsFault("ALLOWED_ORIGINS_SETTING", nil, []string{"*"})
	assert.Equal(t, audit.Code, kind, "an empty allow-list asks for no origin")

	kind, why = corsFault("ALLOWED_ORIGINS_SETTING", []string{"*"}, []string{"https://evil.example"})
	assert.Equal(t, audit.Configuration, kind)
	assert.Contains(t, why, "asks for it")

	kind, _ = corsFault("ALLOWED_ORIGINS_SETTING", []string{"https://app.example", "null"}, []string{"null"})
	assert.Equal(t, audit.Configuration, kind, "the allow-list names the origin admitted")

	kind, why = corsFault("", nil, []string{"https://evil.example"})
	assert.Equal(t, audit.Configuration, kind, "unknown: the catalog's grade stands")
	assert.Contains(t, why, "unknown")
}
