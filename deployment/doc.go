// Package deployment is the audit section that validates the deployment:
// the audited env file statically (required keys, switches, secrets,
// credentials, provider keys), the service's runtime behaviour at start and
// stop, its image, and its operational documents. It replaces the seed's
// validate_configuration.py. Findings name keys and fixes, never values.
//
// The checks reason about the audit's setting concepts (profile.Concepts:
// the mock switch, the authentication switch, the signing secret, the
// database and Redis URLs, the provider keys, limits and timeouts) and read
// each under the key the target's profile maps it to (config.settings); a
// check about a concept the profile does not map is not applicable.
//
// Needs: the audited env file (AUDIT_ENV_FILE; for an external target only
// one the user names); container control and the image for runtime and image
// checks; the target's settings source and reference and its runbook for
// the document checks (for an external target only from a profile the user
// gives, AUDIT_PROFILE). Without them the checks are not evaluated.
package deployment
