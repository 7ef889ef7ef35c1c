#!/usr/bin/env bash
# Builds every image the audit stack needs without an image registry:
# a Debian base (pulled when a registry answers, else debootstrap + docker
# import), PostgreSQL and Redis from Debian's packages, and the Go services
# from static binaries built on the host. Each image carries a label with the
# hash of its build context, so a second run with nothing changed only hashes.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

: "${AUDIT_BASE_IMAGE:=mvpaudit/debian:bookworm-slim}"
: "${AUDIT_POSTGRES_IMAGE:=mvpaudit/postgres:15}"
: "${AUDIT_REDIS_IMAGE:=mvpaudit/redis:7}"
: "${AUDIT_ORCHESTRATOR_IMAGE:=mvpaudit/orchestrator:dev}"
: "${AUDIT_PROVIDERSTUB_IMAGE:=mvpaudit/providerstub:dev}"
# The orchestrator with its defect switches compiled in (build tag
# "defects"), for the self-test only; the default image has none.
: "${AUDIT_ORCHESTRATOR_DEFECTS_IMAGE:=mvpaudit/orchestrator:defects}"
# testcontainers-go starts its reaper from this exact name; ours speaks the
# same protocol (reaper/), so a local tag is all it takes.
: "${AUDIT_REAPER_IMAGE:=testcontainers/ryuk:0.14.0}"
: "${DEBIAN_MIRROR:=http://deb.debian.org/debian}"
: "${DEBIAN_SUITE:=bookworm}"
: "${BUILDINFO_PKG:=github.com/mvpaudit/mvpaudit/orchestrator/internal/buildinfo}"

work="$root/.build"
export DOCKER_BUILDKIT=0 # the classic builder uses local base images without asking a registry

log() { printf 'images: %s\n' "$*" >&2; }
die() { printf 'images: error: %s\n' "$*" >&2; exit 1; }

have_image() { docker image inspect "$1" > /dev/null 2>&1; }

image_hash_label() {
	docker image inspect -f '{{ index .Config.Labels "io.mvpaudit.hash" }}' "$1" 2> /dev/null || true
}

# context_hash DIR [EXTRA...]: hash of every file name and content under DIR,
# plus extra strings (such as the base image ID).
context_hash() {
	local dir="$1"
	shift
	{
		(cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
		printf '%s\n' "$@"
	} | sha256sum | cut -c1-32
}

# build IMAGE DIR [docker build args...]: builds unless the label matches.
build() {
	local image="$1" dir="$2"
	shift 2
	local base_id=""
	if grep -q 'BASE_IMAGE' "$dir/Dockerfile"; then
		base_id="$(docker image inspect -f '{{.Id}}' "$AUDIT_BASE_IMAGE")"
	fi
	local hash
	hash="$(context_hash "$dir" "$base_id" "$@")"
	if [ "$(image_hash_label "$image")" = "$hash" ]; then
		log "$image up to date"
		return
	fi
	log "building $image"
	local started=$SECONDS
	if ! docker build -q --label "io.mvpaudit.hash=$hash" --build-arg "BASE_IMAGE=$AUDIT_BASE_IMAGE" \
		"$@" -t "$image" "$dir" > "$work/$(basename "$dir").build.log" 2>&1; then
		tail -n 30 "$work/$(basename "$dir").build.log" >&2
		die "docker build of $image failed (log: $work/$(basename "$dir").build.log)"
	fi
	log "built $image in $((SECONDS - started))s"
}

ensure_debootstrap() {
	command -v debootstrap > /dev/null && return
	[ "$(id -u)" = 0 ] || die "debootstrap is missing and we are not root: install it (apt-get install debootstrap)"
	log "installing debootstrap"
	apt-get update -qq > /dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap > /dev/null
}

ensure_base() {
	if have_image "$AUDIT_BASE_IMAGE"; then
		log "$AUDIT_BASE_IMAGE present"
		return
	fi
	if [ "$AUDIT_BASE_IMAGE" != "mvpaudit/debian:bookworm-slim" ]; then
		timeout 120 docker pull "$AUDIT_BASE_IMAGE" > /dev/null 2>&1 ||
			die "cannot pull $AUDIT_BASE_IMAGE; unset AUDIT_BASE_IMAGE to build the local base"
		return
	fi
	if timeout 60 docker pull "debian:$DEBIAN_SUITE-slim" > /dev/null 2>&1; then
		docker tag "debian:$DEBIAN_SUITE-slim" "$AUDIT_BASE_IMAGE"
		log "pulled debian:$DEBIAN_SUITE-slim"
		return
	fi
	log "no registry answers: building $AUDIT_BASE_IMAGE with debootstrap from $DEBIAN_MIRROR"
	ensure_debootstrap
	local started=$SECONDS rootfs
	rootfs="$(mktemp -d "$work/rootfs.XXXXXX")"
	# shellcheck disable=SC2064
	trap "rm -rf '$rootfs'" EXIT
	if ! debootstrap --variant=minbase "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" > "$work/debootstrap.log" 2>&1; then
		tail -n 20 "$work/debootstrap.log" >&2
		die "debootstrap failed (log: $work/debootstrap.log)"
	fi
	rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
	tar -C "$rootfs" -c . | docker import \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'CMD ["bash"]' - "$AUDIT_BASE_IMAGE" > /dev/null
	rm -rf "$rootfs"
	trap - EXIT
	log "built $AUDIT_BASE_IMAGE in $((SECONDS - started))s"
}

# ensure_service IMAGE DIR: our own Debian-based image, or a user-supplied one.
ensure_service() {
	local image="$1" dir="$2"
	case "$image" in
		mvpaudit/*) build "$image" "$dir" ;;
		*)
			have_image "$image" && { log "$image present"; return; }
			timeout 300 docker pull "$image" > /dev/null 2>&1 ||
				die "cannot pull $image and no registry answers; unset the variable to build the local image"
			;;
	esac
}

# ensure_go_image IMAGE NAME PKG [TAGS] [stamp]: builds the static binary
# (with the build tags, if any) and its image. Only a stamped image carries
# the git version and revision (the audited orchestrator: its /version and
# OCI labels are checked); the others stay identical across commits and are
# not rebuilt for every one.
ensure_go_image() {
	local image="$1" name="$2" pkg="$3" tags="${4:-}" stamp="${5:-}"
	local ctx="$work/ctx/$name${tags:+-$tags}"
	mkdir -p "$ctx"
	cp "build/images/$name/Dockerfile" "$ctx/Dockerfile"
	if [ "$stamp" = stamp ]; then
		CGO_ENABLED=0 go build -trimpath -tags "$tags" -ldflags "-s -w $ldflags" -o "$ctx/$name" "$pkg"
		build "$image" "$ctx" --build-arg "VERSION=$version" --build-arg "REVISION=$revision"
	else
		CGO_ENABLED=0 go build -trimpath -tags "$tags" -ldflags "-s -w" -o "$ctx/$name" "$pkg"
		build "$image" "$ctx"
	fi
}

mkdir -p "$work"
command -v docker > /dev/null || die "docker is not installed"
docker info > /dev/null 2>&1 || die "the Docker engine does not answer (is it running?)"

version="$(git describe --tags --always --dirty 2> /dev/null || echo dev)"
revision="$(git rev-parse --verify -q HEAD 2> /dev/null || echo unknown)"
build_time="$(git log -1 --format=%cI 2> /dev/null || echo unknown)"
ldflags="-X $BUILDINFO_PKG.Version=$version -X $BUILDINFO_PKG.Commit=$revision -X $BUILDINFO_PKG.BuildTime=$build_time"

# Arguments pick images (base postgres redis orchestrator orchestrator-defects
# providerstub reaper);
# none means all of them.
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(base postgres redis orchestrator orchestrator-defects providerstub reaper)
ensure_base
# The images after the base do not depend on each other: built at once, the
# package downloads of one overlap the others' compiling.
pids=()
for t in "${targets[@]}"; do
	case "$t" in
		base) continue ;;
		postgres) ensure_service "$AUDIT_POSTGRES_IMAGE" build/images/postgres & ;;
		redis) ensure_service "$AUDIT_REDIS_IMAGE" build/images/redis & ;;
		orchestrator) ensure_go_image "$AUDIT_ORCHESTRATOR_IMAGE" orchestrator ./orchestrator/cmd/orchestrator "" stamp & ;;
		orchestrator-defects) ensure_go_image "$AUDIT_ORCHESTRATOR_DEFECTS_IMAGE" orchestrator ./orchestrator/cmd/orchestrator defects stamp & ;;
		providerstub) ensure_go_image "$AUDIT_PROVIDERSTUB_IMAGE" providerstub ./providerstub/cmd/providerstub & ;;
		reaper) ensure_go_image "$AUDIT_REAPER_IMAGE" reaper ./reaper/cmd/reaper & ;;
		*) die "unknown image $t (want base, postgres, redis, orchestrator, orchestrator-defects, providerstub or reaper)" ;;
	esac
	pids+=("$!")
done
failed=0
for pid in "${pids[@]}"; do
	wait "$pid" || failed=1
done
[ "$failed" = 0 ] || die "an image did not build (its error is above)"
