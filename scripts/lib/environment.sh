# Shared by scripts/test, scripts/up and benchmarks: installs and starts the real parts Flotilla
# is tested against. Source it; every function is idempotent and stops only what it started.

FLOTILLA_ROOT=${FLOTILLA_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
FLOTILLA_TEST_IMAGE=localhost/flotilla-test:busybox
export PATH=/opt/swift/usr/bin:$PATH

# Each line says how long the script has run (bash's SECONDS), so a slow phase shows.
log() { printf '==> [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }

# ensure_packages PKG...: apt-get install the Debian packages that are not installed yet.
ensure_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        if [ -z "${FLOTILLA_APT_UPDATED:-}" ]; then apt-get update -qq >/dev/null; FLOTILLA_APT_UPDATED=1; fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

# A private run directory for sockets, logs and pids of what this script starts (made once, in
# the sourcing shell, so every function below agrees on it).
if [ -z "${FLOTILLA_RUN_DIR:-}" ]; then
    FLOTILLA_RUN_DIR=$(mktemp -d /tmp/flotilla-run.XXXXXX)
fi
export FLOTILLA_RUN_DIR
flotilla_run_dir() { echo "$FLOTILLA_RUN_DIR"; }

FLOTILLA_STARTED_PIDS=()

# start_podman: Podman's Docker-compatible API on $FLOTILLA_RUN_DIR/podman.sock, trusting the
# local test registry on 127.0.0.1:5000. Exports FLOTILLA_PODMAN_SOCK and CONTAINERS_CONF.
start_podman() {
    local dir; dir=$(flotilla_run_dir)
    export CONTAINERS_CONF="$FLOTILLA_ROOT/ci/containers.conf"
    printf '[[registry]]\nlocation = "127.0.0.1:5000"\ninsecure = true\n' > "$dir/registries.conf"
    export CONTAINERS_REGISTRIES_CONF="$dir/registries.conf"
    FLOTILLA_PODMAN_SOCK="$dir/podman.sock"
    podman system service --time=0 "unix://$FLOTILLA_PODMAN_SOCK" >"$dir/podman.log" 2>&1 &
    FLOTILLA_STARTED_PIDS+=($!)
    FLOTILLA_PODMAN_PID=$!
    for _ in $(seq 1 100); do
        if curl -fsS --unix-socket "$FLOTILLA_PODMAN_SOCK" http://localhost/version >/dev/null 2>&1; then
            export FLOTILLA_PODMAN_SOCK FLOTILLA_PODMAN_PID
            log "podman API up on $FLOTILLA_PODMAN_SOCK (pid $FLOTILLA_PODMAN_PID)"
            return 0
        fi
        sleep 0.1
    done
    log "podman API did not come up; log:"; cat "$dir/podman.log" >&2
    return 1
}

# import_test_image: the tiny busybox image every test uses (no registry needed).
import_test_image() {
    local dir; dir=$(flotilla_run_dir)/rootfs
    mkdir -p "$dir/bin" "$dir/www"
    cp /bin/busybox "$dir/bin/"
    for a in sh httpd sleep echo cat wget nc kill env mkdir; do ln -sf busybox "$dir/bin/$a"; done
    echo hello > "$dir/www/index.html"
    tar -C "$dir" -cf "$dir.tar" .
    if podman image exists "$FLOTILLA_TEST_IMAGE" 2>/dev/null; then return 0; fi
    podman import -q "$dir.tar" "$FLOTILLA_TEST_IMAGE" >/dev/null
    log "imported $FLOTILLA_TEST_IMAGE"
}

# start_registry: Debian's docker-registry on 127.0.0.1:5000 (storage in the run dir), with the
# test image pushed as 127.0.0.1:5000/flotilla/busybox:1. Exports FLOTILLA_TEST_REGISTRY.
start_registry() {
    local dir; dir=$(flotilla_run_dir)
    if curl -fsS http://127.0.0.1:5000/v2/ >/dev/null 2>&1; then
        log "a registry already answers on 127.0.0.1:5000; using it"
    else
        mkdir -p "$dir/registry"
        cat > "$dir/registry.yml" <<YAML
version: 0.1
storage:
  filesystem:
    rootdirectory: $dir/registry
http:
  addr: 127.0.0.1:5000
YAML
        docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 &
        FLOTILLA_STARTED_PIDS+=($!)
        for _ in $(seq 1 100); do curl -fsS http://127.0.0.1:5000/v2/ >/dev/null 2>&1 && break; sleep 0.1; done
    fi
    podman tag "$FLOTILLA_TEST_IMAGE" 127.0.0.1:5000/flotilla/busybox:1
    podman push -q --tls-verify=false 127.0.0.1:5000/flotilla/busybox:1 >/dev/null
    podman rmi -f 127.0.0.1:5000/flotilla/busybox:1 >/dev/null 2>&1 || true
    export FLOTILLA_TEST_REGISTRY=127.0.0.1:5000
    log "registry on 127.0.0.1:5000 holds flotilla/busybox:1"
}

# start_docker: Debian's Docker Engine on $FLOTILLA_RUN_DIR/docker/docker.sock, kept off iptables
# and the default bridge (host networking only, as these machines require), with the busybox test
# image imported. Exports FLOTILLA_DOCKER_SOCK.
# spawn_docker: only starts the process (start_docker waits for it), so that it can come up
# while something else runs.
spawn_docker() {
    [ -z "${FLOTILLA_DOCKER_SPAWNED:-}" ] || return 0
    local dir; dir=$(flotilla_run_dir)/docker
    mkdir -p "$dir"
    dockerd --host "unix://$dir/docker.sock" --data-root "$dir/data" --exec-root "$dir/exec" \
        --pidfile "$dir/docker.pid" --iptables=false --bridge=none >"$dir/dockerd.log" 2>&1 &
    FLOTILLA_STARTED_PIDS+=($!)
    FLOTILLA_DOCKER_SPAWNED=1
}

start_docker() {
    local dir; dir=$(flotilla_run_dir)/docker
    spawn_docker
    for _ in $(seq 1 200); do
        if curl -fsS --unix-socket "$dir/docker.sock" http://localhost/_ping >/dev/null 2>&1; then
            FLOTILLA_DOCKER_SOCK="$dir/docker.sock"
            export FLOTILLA_DOCKER_SOCK
            local rootfs; rootfs=$(flotilla_run_dir)/rootfs.tar
            [ -f "$rootfs" ] || { log "no busybox rootfs to import (import_test_image first)"; return 1; }
            DOCKER_HOST="unix://$FLOTILLA_DOCKER_SOCK" docker import "$rootfs" "$FLOTILLA_TEST_IMAGE" >/dev/null
            log "docker API up on $FLOTILLA_DOCKER_SOCK"
            return 0
        fi
        sleep 0.1
    done
    log "dockerd did not come up; log:"; tail -20 "$dir/dockerd.log" >&2
    return 1
}

# stop_started: ends every process this script started, by PID, never by name.
# A real three-node Docker Swarm on loopback: three private dockerd processes (own data root,
# exec root, socket, pidfile; no iptables, no bridge), `swarm init` on the first, the others
# joined as workers on 127.0.0.1:2378/2379; the busybox test image imported into each.
# Exports FLOTILLA_SWARM_SOCK (the manager's socket).
# spawn_swarm_nodes: only starts the three processes (start_swarm waits for them and forms the
# swarm).
spawn_swarm_nodes() {
    [ -z "${FLOTILLA_SWARM_SPAWNED:-}" ] || return 0
    local base; base=$(flotilla_run_dir)/swarm
    local i
    for i in 1 2 3; do
        mkdir -p "$base/n$i"
        dockerd --host "unix://$base/n$i/docker.sock" --data-root "$base/n$i/data" --exec-root "$base/n$i/exec" \
            --pidfile "$base/n$i/docker.pid" --iptables=false --bridge=none >"$base/n$i/dockerd.log" 2>&1 &
        FLOTILLA_STARTED_PIDS+=($!)
    done
    FLOTILLA_SWARM_SPAWNED=1
}

start_swarm() {
    local base; base=$(flotilla_run_dir)/swarm
    local rootfs; rootfs=$(flotilla_run_dir)/rootfs.tar
    [ -f "$rootfs" ] || { log "no busybox rootfs to import (import_test_image first)"; return 1; }
    local i
    spawn_swarm_nodes
    for i in 1 2 3; do
        local up=""
        for _ in $(seq 1 200); do
            if curl -fsS --unix-socket "$base/n$i/docker.sock" http://localhost/_ping >/dev/null 2>&1; then up=1; break; fi
            sleep 0.1
        done
        [ -n "$up" ] || { log "swarm node $i did not come up; log:"; tail -20 "$base/n$i/dockerd.log" >&2; return 1; }
        DOCKER_HOST="unix://$base/n$i/docker.sock" docker import "$rootfs" "$FLOTILLA_TEST_IMAGE" >/dev/null
    done
    DOCKER_HOST="unix://$base/n1/docker.sock" docker swarm init --advertise-addr 127.0.0.1 >/dev/null
    local token; token=$(DOCKER_HOST="unix://$base/n1/docker.sock" docker swarm join-token -q worker)
    for i in 2 3; do
        DOCKER_HOST="unix://$base/n$i/docker.sock" docker swarm join --token "$token" \
            --listen-addr "127.0.0.1:$((2376 + i))" --advertise-addr "127.0.0.1:$((2376 + i))" 127.0.0.1:2377 >/dev/null
    done
    FLOTILLA_SWARM_SOCK="$base/n1/docker.sock"
    export FLOTILLA_SWARM_SOCK
    log "swarm of 3 nodes up; manager $FLOTILLA_SWARM_SOCK"
}

stop_started() {
    local pid
    # All asked at once (Swarm nodes wait on each other), then up to 15 s each to go.
    for pid in "${FLOTILLA_STARTED_PIDS[@]:-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done
    for pid in "${FLOTILLA_STARTED_PIDS[@]:-}"; do
        [ -n "$pid" ] || continue
        for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    FLOTILLA_STARTED_PIDS=()
    FLOTILLA_DOCKER_SPAWNED=""
    FLOTILLA_SWARM_SPAWNED=""
    # A Swarm node a test stopped and started again is not in the list: its pidfile says.
    local pidfile
    for pidfile in "$FLOTILLA_RUN_DIR"/swarm/n*/docker.pid; do
        [ -f "$pidfile" ] || continue
        pid=$(cat "$pidfile" 2>/dev/null) || continue
        [ -n "$pid" ] || continue
        kill "$pid" 2>/dev/null || continue
        for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    # A dockerd killed before its containers leaves their shims (and processes) running.
    local shim
    for shim in $(pgrep -f "containerd-shim.*$FLOTILLA_RUN_DIR" 2>/dev/null); do
        pkill -9 -P "$shim" 2>/dev/null || true
        kill -9 "$shim" 2>/dev/null || true
    done
    # dockerd leaves its data root and network namespace bind-mounted.
    if [ -d "$FLOTILLA_RUN_DIR/docker" ]; then
        umount -R "$FLOTILLA_RUN_DIR/docker/exec/netns/default" "$FLOTILLA_RUN_DIR/docker/data" 2>/dev/null || true
    fi
    local node
    for node in "$FLOTILLA_RUN_DIR"/swarm/n*; do
        [ -d "$node" ] || continue
        umount -R "$node/exec/netns/default" "$node/data" 2>/dev/null || true
        for mount in $(awk -v p="$node/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r); do umount "$mount" 2>/dev/null || true; done
    done
}
