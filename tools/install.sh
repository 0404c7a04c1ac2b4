#!/bin/bash
# make install / make uninstall.
#   install.sh install|uninstall DESTDIR PREFIX SRCDIR
# Programs go where the legacy packages had them, so that admins' scripts and init scripts
# that name full paths keep working. The Python code and its dependencies go into one private
# folder ($PREFIX/lib/heartbeat-drbd-py): Debian's python is "externally managed" and the
# dependencies are not all packaged, so we do not touch the system's site-packages.
# Every file we add is listed in a manifest; uninstall removes exactly those and puts back
# what we had set aside. A config file that exists is never overwritten.
set -euo pipefail
action=$1 destdir=${2:-} prefix=${3:-/usr} src=${4:-$(pwd)}
libdir="$prefix/lib/heartbeat-drbd-py"
manifest_rel="/var/lib/heartbeat-drbd-py/install-manifest"
manifest="$destdir$manifest_rel"
saved_suffix=".pre-heartbeat-drbd-py"

# program name -> python entry point (module:function)
declare -A entry=(
    [heartbeat]=heartbeat_py.tools.heartbeat_cmd:main
    [cl_status]=heartbeat_py.tools.cl_status:main
    [hb_standby]=heartbeat_py.tools.hb_standby:main
    [hb_takeover]=heartbeat_py.tools.hb_takeover:main
    [drbdadm]=drbd_py.adm.cli:main
    [drbdsetup-py]=drbd_py.engine.setup_cli:main
    [drbd-py-engine]=drbd_py.engine.daemon:main
    [drbd-overview]=drbd_py.adm.overview:main
)
# program name -> where it is installed (first is the real file, the rest are symlinks to it)
declare -A places=(
    [heartbeat]="$prefix/lib/heartbeat/heartbeat $prefix/sbin/heartbeat $prefix/libexec/heartbeat/heartbeat"
    [cl_status]="$prefix/bin/cl_status"
    [hb_standby]="$prefix/share/heartbeat/hb_standby $prefix/lib/heartbeat/hb_standby $prefix/bin/hb_standby"
    [hb_takeover]="$prefix/share/heartbeat/hb_takeover $prefix/lib/heartbeat/hb_takeover $prefix/bin/hb_takeover"
    [drbdadm]="$prefix/sbin/drbdadm /sbin/drbdadm"
    [drbdsetup-py]="$prefix/sbin/drbdsetup-py"
    [drbd-py-engine]="$prefix/sbin/drbd-py-engine"
    [drbd-overview]="$prefix/sbin/drbd-overview"
)

record() { echo "$1" >> "$manifest"; }

# put a file in place; an existing different file is set aside (restored by uninstall)
place() {  # place SRC DEST_REL MODE
    local srcf=$1 rel=$2 mode=$3 dest="$destdir$2"
    mkdir -p "$(dirname "$dest")"
    if [ -e "$dest" ] || [ -L "$dest" ]; then
        if ! grep -qxF "$rel" "$manifest" 2>/dev/null; then
            cmp -s "$srcf" "$dest" 2>/dev/null && [ ! -L "$dest" ] && { record "$rel"; return; }
            mv "$dest" "$dest$saved_suffix"
            record "saved:$rel"
        fi
    fi
    install -m "$mode" "$srcf" "$dest"
    grep -qxF "$rel" "$manifest" 2>/dev/null || record "$rel"
}

link() {  # link TARGET_REL LINK_REL
    local target=$1 rel=$2 dest="$destdir$2"
    mkdir -p "$(dirname "$dest")"
    if [ -e "$dest" ] || [ -L "$dest" ]; then
        if ! grep -qxF "$rel" "$manifest" 2>/dev/null; then
            mv "$dest" "$dest$saved_suffix"; record "saved:$rel"
        else
            rm -f "$dest"
        fi
    fi
    ln -s "$target" "$dest"
    grep -qxF "$rel" "$manifest" 2>/dev/null || record "$rel"
}

do_install() {
    mkdir -p "$(dirname "$manifest")"
    touch "$manifest"
    local py
    py=$("$src/.venv/bin/python" -c 'import sys; print(sys._base_executable)' 2>/dev/null || command -v python3)
    # the code and its dependencies
    local stage; stage=$(mktemp -d)
    trap 'rm -rf "$stage"' RETURN
    "$src/.venv/bin/python" -m pip install -q --no-compile --target "$stage/lib" \
        "$src" >/dev/null
    (cd "$stage/lib" && find . -type f ! -path '*/__pycache__/*' ! -path './bin/*' | sort) | while read -r f; do
        f=${f#./}
        place "$stage/lib/$f" "$libdir/$f" 644
    done
    # programs: small wrappers that run the entry point with our private path
    local name
    for name in "${!entry[@]}"; do
        local mod=${entry[$name]%%:*} fn=${entry[$name]##*:}
        local set=(${places[$name]}) w="$stage/wrapper-$name"
        cat > "$w" <<WRAP
#!/bin/sh
# $name: installed by heartbeat-drbd-py
PYTHONPATH="$libdir\${PYTHONPATH:+:\$PYTHONPATH}" exec "$py" -c 'import sys; sys.argv[0] = "$name"; from $mod import $fn; sys.exit($fn())' "\$@"
WRAP
        place "$w" "${set[0]}" 755
        local other
        for other in "${set[@]:1}"; do link "${set[0]}" "$other"; done
    done
    # resource scripts (their helper files too)
    local f
    for f in "$src"/resource.d/* "$src"/resource.d/.[!.]*; do
        [ -f "$f" ] || continue
        local mode=644; [ -x "$f" ] && mode=755
        place "$f" "/etc/ha.d/resource.d/$(basename "$f")" "$mode"
    done
    # init scripts and systemd units
    for f in "$src"/etc/init.d/*; do
        [ -f "$f" ] && place "$f" "/etc/init.d/$(basename "$f")" 755
    done
    for f in "$src"/etc/systemd/*.service; do
        [ -f "$f" ] && place "$f" "/lib/systemd/system/$(basename "$f")" 644
    done
    # example configs: documentation always, /etc only where the admin has none
    for f in "$src"/etc/ha.d/*; do
        [ -f "$f" ] || continue
        place "$f" "$prefix/share/doc/heartbeat-drbd-py/examples/ha.d/$(basename "$f")" 644
    done
    [ -f "$src/etc/drbd.conf" ] && place "$src/etc/drbd.conf" \
        "$prefix/share/doc/heartbeat-drbd-py/examples/drbd.conf" 644
    record "$manifest_rel"
    echo "install: done ($(wc -l < "$manifest") entries in $manifest_rel)"
}

do_uninstall() {
    [ -f "$manifest" ] || { echo "uninstall: nothing installed (no $manifest_rel)"; return 0; }
    local line lines
    mapfile -t lines < "$manifest"
    # files first, then restore what was set aside
    for line in "${lines[@]}"; do
        case $line in
            saved:*) ;;
            *) rm -f "$destdir$line" ;;
        esac
    done
    for line in "${lines[@]}"; do
        case $line in
            saved:*) line=${line#saved:}
                     if [ -e "$destdir$line$saved_suffix" ] || [ -L "$destdir$line$saved_suffix" ]; then
                         mv "$destdir$line$saved_suffix" "$destdir$line"
                     fi ;;
        esac
    done
    # remove folders we left empty (an admin's folder with anything in it stays)
    for line in "${lines[@]}"; do
        case $line in saved:*) continue ;; esac
        local d; d=$(dirname "$destdir$line")
        while [ "$d" != "$destdir" ] && [ "$d" != "/" ] && rmdir "$d" 2>/dev/null; do
            d=$(dirname "$d")
        done
    done
    echo "uninstall: done"
}

case $action in
    install) do_install ;;
    uninstall) do_uninstall ;;
    *) echo "usage: install.sh install|uninstall DESTDIR PREFIX SRCDIR" >&2; exit 1 ;;
esac
