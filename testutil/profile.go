package testutil

import (
	_ "embed"
	"fmt"

	"github.com/mvpaudit/mvpaudit/profile"
)

//go:embed profiles/reference.yaml
var referenceProfile []byte

// Profile is the audited gateway's description (package profile); the
// checks read every path, field and setting name from it.
type Profile = profile.Profile

// Route is one method and path of a profile.
type Route = profile.Route

// Message is one chat message of an orchestrate request.
type Message = profile.Message

// ReferenceProfile returns the profile of the reference orchestrator.
func ReferenceProfile() Profile {
	p, err := profile.Parse(referenceProfile)
	if err != nil {
		// The embedded file is covered by a unit test; reaching this is a build defect.
		panic(fmt.Sprintf("embedded reference profile: %v", err))
	}
	return p
}

// LoadProfile reads a profile file; an empty path gives the reference profile.
func LoadProfile(path string) (Profile, error) {
	if path == "" {
		return ReferenceProfile(), nil
	}
	return profile.Load(path)
}

// ParseProfile decodes and validates a profile of any supported version.
// One with an openapi block needs its file: use LoadProfile.
func ParseProfile(data []byte) (Profile, error) { return profile.Parse(data) }
