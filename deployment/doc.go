// Package deployment is the audit section that validates the deployment:
// the audited env file statically (required keys, switches, secrets,
// credentials, provider keys), the service's runtime behaviour at start and
// stop, its image, and its operational documents. It replaces the seed's
// validate_configuration.py. Findings name keys and fixes, never values.
//
// Needs: the audited env file (AUDIT_ENV_FILE; for an external target only
// one the user names); container control and the image for runtime and image
// checks; the target's settings source and reference and its runbook for
// the document checks (for an external target only from a profile the user
// gives, AUDIT_PROFILE). Without them the checks are not evaluated.
package deployment
