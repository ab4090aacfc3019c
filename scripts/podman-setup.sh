#!/usr/bin/env bash
# Podman serving the Docker Engine API for the docker task type's tests (and for a
# developer's machine without Docker).
#
#   scripts/podman-setup.sh <dir>           # e.g. /tmp/sched-podman
#   scripts/podman-setup.sh --install-only  # only the Debian packages (CI does this early)
#
# Idempotent: installs the packages if missing (apt-get, as root only; otherwise it says
# what to install), writes <dir>/containers.conf and <dir>/storage.conf (everything podman
# stores lives under <dir>), imports the test image localhost/sched-test-busybox:latest (a
# static busybox: no registry is needed) if missing, starts `podman system service` on
# <dir>/podman.sock unless it already answers, and prints as its last line
#
#   DOCKER_HOST=unix://<dir>/podman.sock
#
# Exit status 0 = ready; 2 = podman is not installed and cannot be here; else a failure.
# Nothing stops the service: it keeps serving for the next run. To stop it:
#   kill "$(cat <dir>/service.pid)"
set -euo pipefail

PACKAGES=(podman runc conmon netavark aardvark-dns iptables catatonit busybox-static
  golang-github-containers-common)
IMAGE="localhost/sched-test-busybox:latest"

log() { echo "podman-setup: $*" >&2; }

install_packages() {
  local missing=()
  local pkg
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    log "podman is not ready; as root, run: apt-get install -y ${missing[*]}"
    return 2
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || {
      log "apt-get install ${missing[*]} failed"
      return 2
    }
  fi
}

if [ "${1:-}" = "--install-only" ]; then
  install_packages
  exit $?
fi
if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 <dir> | --install-only" >&2
  exit 64
fi

mkdir -p "$1"
DIR="$(cd "$1" && pwd)"
SOCK="$DIR/podman.sock"

# One setup at a time per directory (pytest-xdist workers may call this together).
exec 9>"$DIR/setup.lock"
flock 9

install_packages || exit $?

# Defaults the engine may give containers: no higher than this machine's hard limits
# (a higher value makes runc fail with EPERM).
nofile="$(ulimit -Hn)"
nproc="$(ulimit -Hu)"
pid_max="$(cat /proc/sys/kernel/pid_max)"
[ "$nofile" = unlimited ] && nofile=1048576
if [ "$nproc" = unlimited ] || [ "$nproc" -gt "$pid_max" ]; then nproc="$pid_max"; fi

mkdir -p "$DIR/storage" "$DIR/run" "$DIR/tmp" "$DIR/networks"
write_if_changed() { # path, content: rewrite only on a change (the service reads it at start)
  if [ ! -f "$1" ] || [ "$(cat "$1")" != "$2" ]; then
    printf '%s\n' "$2" >"$1.new" && mv "$1.new" "$1"
    CONF_CHANGED=1
  fi
}
CONF_CHANGED=0
write_if_changed "$DIR/containers.conf" "# Written by scripts/podman-setup.sh
[containers]
default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]
log_driver = \"k8s-file\"

[engine]
# crun refuses this machine's hybrid cgroups; runc works.
runtime = \"runc\"
cgroup_manager = \"cgroupfs\"
events_logger = \"file\"
events_logfile_path = \"$DIR/tmp/events.log\"
tmp_dir = \"$DIR/tmp\"

[network]
network_backend = \"netavark\"
network_config_dir = \"$DIR/networks\""
write_if_changed "$DIR/storage.conf" "# Written by scripts/podman-setup.sh
[storage]
driver = \"overlay\"
graphroot = \"$DIR/storage\"
runroot = \"$DIR/run\""

export CONTAINERS_CONF="$DIR/containers.conf"
export CONTAINERS_STORAGE_CONF="$DIR/storage.conf"
podman() { command podman --log-level=error "$@"; }

# The test image: a static busybox with its applet links.
if ! podman image exists "$IMAGE"; then
  log "importing $IMAGE"
  root="$(mktemp -d "$DIR/image.XXXXXX")"
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root/rootfs/bin" "$root/rootfs/tmp" "$root/rootfs/etc"
  chmod 1777 "$root/rootfs/tmp"
  cp /bin/busybox "$root/rootfs/bin/busybox"
  "$root/rootfs/bin/busybox" --list-full | while read -r applet; do
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$root/rootfs/$(dirname "$applet")"
    ln -sf /bin/busybox "$root/rootfs/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
    >"$root/rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/rootfs/etc/group"
  tar -C "$root/rootfs" -cf "$root/rootfs.tar" .
  podman import --quiet --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
    "$root/rootfs.tar" "$IMAGE" >/dev/null
  rm -rf "$root"
  trap - EXIT
fi

answers() {
  python3 - "$SOCK" <<'EOF'
import socket, sys
try:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(2)
        s.connect(sys.argv[1])
        s.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
        sys.exit(0 if s.recv(64).split(b" ")[1:2] == [b"200"] else 1)
except (OSError, IndexError):
    sys.exit(1)
EOF
}

# A service started before a configuration change still runs the old one: restart it.
if [ "$CONF_CHANGED" = 1 ] && [ -f "$DIR/service.pid" ]; then
  kill "$(cat "$DIR/service.pid")" 2>/dev/null || true
  sleep 0.5
fi
if ! answers; then
  rm -f "$SOCK"
  log "starting podman system service on $SOCK (log: $DIR/service.log)"
  # Its own session, no inherited descriptors: the caller may wait for our output to end.
  setsid podman --log-level=error system service --time=0 "unix://$SOCK" \
    </dev/null >>"$DIR/service.log" 2>&1 9>&- &
  echo $! >"$DIR/service.pid"
  for _ in $(seq 100); do
    answers && break
    sleep 0.1
  done
  if ! answers; then
    log "the podman service did not answer on $SOCK; its log:"
    tail -20 "$DIR/service.log" >&2
    exit 1
  fi
fi
echo "DOCKER_HOST=unix://$SOCK"
