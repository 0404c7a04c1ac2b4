#!/bin/bash
# Install the named Debian packages that are missing; never start services while doing so.
set -e
missing=()
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "apt-ensure: need root to install: ${missing[*]}" >&2
    exit 1
fi
echo "apt-ensure: installing ${missing[*]}"
# Packages such as heartbeat and drbd-utils try to start their services on install:
# a policy-rc.d that says no keeps the host untouched (we only want their programs).
policy=/usr/sbin/policy-rc.d
ours=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; ours=1
fi
trap '[ $ours = 1 ] && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
lists=$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' 2>/dev/null | head -1)
if [ -z "$lists" ] || ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
