# mvpaudit: production-readiness audit for LLM orchestrator services.
# `make audit` and `make test` do all set-up themselves on a machine with a
# Docker engine, even one with no image registry (images are built locally).

SHELL := /bin/bash
GO ?= go

# testcontainers-go on these machines must dial the Docker host on loopback,
# never a gateway address it guesses from /.dockerenv.
export TESTCONTAINERS_HOST_OVERRIDE ?= 127.0.0.1

# The audited configuration: the project's sample for the hermetic stack. An
# external target (AUDIT_TARGET_URL) gets only the env file the user names;
# the sample says nothing about someone else's deployment.
ifeq ($(AUDIT_TARGET_URL),)
AUDIT_ENV_FILE ?= deploy/production.env
endif
export AUDIT_ENV_FILE

# Tests with containers take minutes; bound them so a hang cannot eat CI.
TEST_TIMEOUT ?= 45m

.PHONY: all images test test-short audit crosscheck stress-verdict lint fmt vet clean clean-images

all: lint test

## images: build every image the stack needs (idempotent, offline)
images:
	@bash build/images.sh

## test: unit and integration tests (starts containers)
# The self-test is named first so that go test starts it first: it is the
# longest package by far, and the others fit beside it. It runs every
# section package against the clean build five times (the reference, its
# compose deployment, three API dialects) and must see all of them pass, so
# the sections are not run a sixth time on stacks of their own; one
# (functionality, the shortest) still is, to prove that `go test` of a
# section alone starts and removes its own stack.
SECTIONS_IN_SELFTEST := deployment|security|performance|infrastructure
test: images
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./selftest $$($(GO) list ./... | grep -v -E '/($(SECTIONS_IN_SELFTEST))$$')

## test-short: unit tests only, no Docker, seconds
test-short:
	$(GO) test -short -count=1 ./...

## audit: one stack, every section, reports/ and a verdict (exit code = verdict);
## ARGS passes flags to mvpaudit run (make audit ARGS="--checks SEC-JWT-* --profile acme.yaml")
# Built, not `go run`: go run turns every non-zero exit into 1, and the
# verdict is in the exit code.
audit: images
	@$(GO) build -buildvcs=auto -o .build/bin/mvpaudit ./cmd/mvpaudit
	.build/bin/mvpaudit run$(if $(AUDIT_ENV_FILE), --env-file "$(AUDIT_ENV_FILE)")$(if $(ARGS), $(ARGS))

## crosscheck: compare the performance section's measurement with vegeta's CLI (within 20%)
crosscheck: images
	GOBIN="$(CURDIR)/.build/bin" $(GO) install github.com/tsenart/vegeta/v12@$$($(GO) list -m -f '{{.Version}}' github.com/tsenart/vegeta/v12)
	AUDIT_VEGETA_CLI="$(CURDIR)/.build/bin/vegeta" $(GO) test -count=1 -v -run 'TestCrossCheckWithVegetaCLI' ./performance

## stress-verdict: N clean audits beside a second audit, then N of mvp.env (NOISE=0: alone; KINDS=clean or mvp); counts the verdicts (slow, not in CI)
stress-verdict: images
	@$(GO) build -buildvcs=auto -o .build/bin/mvpaudit ./cmd/mvpaudit
	N=$${N:-10} bash build/stress-verdict.sh

lint: vet
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf .build reports

clean-images:
	-docker image rm mvpaudit/orchestrator:dev mvpaudit/orchestrator:defects mvpaudit/providerstub:dev mvpaudit/postgres:15 mvpaudit/redis:7 testcontainers/ryuk:0.14.0
