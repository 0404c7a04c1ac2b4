#!/bin/bash
# make install / make uninstall.
#   install.sh install|uninstall DESTDIR PREFIX SRCDIR [VENV]
#
# Programs go where the legacy packages had them, so that admins' scripts, init scripts and
# unit files that name full paths keep working. The Python code and its dependencies go into
# one private folder ($PREFIX/lib/heartbeat-drbd-py): Debian's python is "externally managed"
# and the dependencies are not all packaged, so the system's site-packages is not touched.
#
# Uninstall must leave the machine exactly as it was, so every file, link and folder that
# install makes is written to a manifest, and whatever stood at one of our paths before
# (Debian's /etc/init.d/heartbeat, drbd-utils' drbdadm, an admin's own IPaddr) is moved
# into /var/lib/heartbeat-drbd-py/saved/ (not beside the original: a stray copy in
# /etc/init.d or resource.d would still look like a service or a resource) and put back by
# uninstall. Configuration files (ha.cf, haresources, authkeys, drbd.conf) are never
# written: the examples go to the documentation folder only.
set -euo pipefail
action=${1:-} destdir=${2:-} prefix=${3:-/usr} src=${4:-$(pwd)} venv=${5:-.venv}
destdir=${destdir%/}
case $venv in /*) ;; *) venv="$src/$venv" ;; esac
name=heartbeat-drbd-py
libdir="$prefix/lib/$name"
docdir="$prefix/share/doc/$name"
state_rel="/var/lib/$name"
saved_rel="$state_rel/saved"
manifest="$destdir$state_rel/install-manifest"

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
# program name -> where it goes: the first path is the file, the others link to it.
# heartbeat: 1.2's and 3.0.6's daemon paths (Debian's init script runs /usr/libexec/...);
# hb_standby/hb_takeover: 3.0.6 (/usr/share/heartbeat), 1.2 (/usr/lib/heartbeat), PATH;
# drbdadm: /sbin (DRBD 0.7/8 packages) and /usr/sbin.
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

say() { echo "$action: $*"; }
exists() { [ -e "$1" ] || [ -L "$1" ]; }
record() { echo "$1 $2" >> "$manifest"; }      # KIND PATH (kinds: dir file link tree saved)

missing_dirs() {  # the folders of REL that do not exist yet, outermost first
    local d=$1 out=()
    while [ "$d" != / ] && [ ! -d "$destdir$d" ]; do
        out=("$d" "${out[@]}")
        d=$(dirname "$d")
    done
    echo "${out[@]}"
}

ensure_dir() {
    local d
    for d in $(missing_dirs "$1"); do
        mkdir "$destdir$d"
        record dir "$d"
    done
}

set_aside() {  # move what stands at REL into the saved tree, to be restored by uninstall
    local rel=$1
    exists "$destdir$rel" || return 0
    mkdir -p "$(dirname "$destdir$saved_rel$rel")"
    mv "$destdir$rel" "$destdir$saved_rel$rel"
    record saved "$rel"
    say "set aside $rel (kept in $saved_rel$rel until make uninstall)"
}

place() {  # place SRC REL MODE
    local srcf=$1 rel=$2 mode=$3
    ensure_dir "$(dirname "$rel")"
    set_aside "$rel"
    install -m "$mode" "$srcf" "$destdir$rel"
    record file "$rel"
}

link() {  # link TARGET REL
    local target=$1 rel=$2
    ensure_dir "$(dirname "$rel")"
    # Debian 12 merged /sbin into /usr/sbin: /sbin/drbdadm already is the file we placed
    if [ "$destdir$rel" -ef "$destdir$target" ]; then
        return 0
    fi
    set_aside "$rel"
    # relative, as Debian's packages make them: the tree then also works inside DESTDIR
    ln -sr "$destdir$target" "$destdir$rel"
    record link "$rel"
}

resource_dir() {
    # The 2006 Debian layout kept everything in a real /etc/heartbeat; the daemon looks for
    # scripts beside the ha.cf it reads, so they go there when there is no /etc/ha.d.
    if [ ! -e "$destdir/etc/ha.d" ] && [ -d "$destdir/etc/heartbeat" ] && [ ! -L "$destdir/etc/heartbeat" ]; then
        echo /etc/heartbeat/resource.d
    else
        echo /etc/ha.d/resource.d
    fi
}

begin_manifest() {
    local dirs d
    dirs=$(missing_dirs "$state_rel")
    mkdir -p "$destdir$state_rel"
    : > "$manifest"
    for d in $dirs; do record dir "$d"; done
}

write_wrapper() {  # write_wrapper NAME PYTHON FILE
    local prog=$1 py=$2 out=$3 mod=${entry[$1]%%:*} fn=${entry[$1]##*:}
    # No interpreter flags: the process then reads "python3 /usr/sbin/heartbeat", which
    # ps, pidof -x and the admins' scripts recognise. The private folder replaces the
    # program's own folder at the head of the import path, ahead of everything else.
    cat > "$out" <<WRAP
#!$py
# $prog: installed by $name (make install); make uninstall removes it.
import sys
sys.path[0] = "$libdir"
from $mod import $fn
sys.exit($fn())
WRAP
}

do_install() {
    [ -x "$venv/bin/python" ] || { echo "install: no $venv (run make venv first)" >&2; exit 1; }
    if [ -f "$manifest" ]; then
        say "replacing the previous install"
        action=uninstall do_uninstall >/dev/null
    fi
    local py
    py=$("$venv/bin/python" -c 'import sys; print(sys._base_executable)')
    stage=$(mktemp -d)
    trap 'rm -rf "$stage"' EXIT
    # the code and its dependencies, byte-compiled here with hash-checked .pyc files so
    # that running the programs never writes into the installed folder
    "$venv/bin/python" -m pip install -q --no-compile --target "$stage/lib" "$src" >/dev/null
    rm -rf "$stage/lib/bin"
    "$venv/bin/python" -m compileall -q --invalidation-mode checked-hash \
        -s "$stage/lib" -p "$libdir" "$stage/lib" >/dev/null

    begin_manifest
    set_aside "$libdir"
    ensure_dir "$libdir"
    record tree "$libdir"
    local f
    while read -r f; do
        place "$stage/lib/$f" "$libdir/$f" 644
    done < <(cd "$stage/lib" && find . -type f | sed 's|^\./||' | sort)

    local prog other
    for prog in $(printf '%s\n' "${!entry[@]}" | sort); do
        local set=(${places[$prog]})
        write_wrapper "$prog" "$py" "$stage/wrapper-$prog"
        place "$stage/wrapper-$prog" "${set[0]}" 755
        for other in "${set[@]:1}"; do link "${set[0]}" "$other"; done
    done

    # resource scripts with their helper files (the helpers stay non-executable, so
    # heartbeat never takes them for resources)
    local rscdir; rscdir=$(resource_dir)
    for f in "$src"/resource.d/* "$src"/resource.d/.[!.]*; do
        [ -f "$f" ] || continue
        local mode=644; [ -x "$f" ] && mode=755
        place "$f" "$rscdir/$(basename "$f")" "$mode"
    done
    for f in "$src"/etc/init.d/*; do
        [ -f "$f" ] && place "$f" "/etc/init.d/$(basename "$f")" 755
    done
    for f in "$src"/etc/systemd/*.service; do
        [ -f "$f" ] && place "$f" "/lib/systemd/system/$(basename "$f")" 644
    done

    # documentation, and the example configuration (never into /etc)
    place "$src/README.md" "$docdir/README.md" 644
    [ -f "$src/docs/ja/README.md" ] && place "$src/docs/ja/README.md" "$docdir/docs/ja/README.md" 644
    for f in "$src"/docs/*.md; do
        [ -f "$f" ] && place "$f" "$docdir/docs/$(basename "$f")" 644
    done
    for f in "$src"/etc/ha.d/*; do
        [ -f "$f" ] && place "$f" "$docdir/examples/ha.d/$(basename "$f")" 644
    done
    [ -f "$src/etc/drbd.conf" ] && place "$src/etc/drbd.conf" "$docdir/examples/drbd.conf" 644
    say "done ($(wc -l < "$manifest") entries in $state_rel/install-manifest)"
    if [ -z "$destdir" ] && [ -d /run/systemd/system ]; then
        say "systemd runs here: 'systemctl daemon-reload' makes it read the new unit files"
    fi
}

do_uninstall() {
    if [ ! -f "$manifest" ]; then
        say "nothing installed (no $state_rel/install-manifest)"
        return 0
    fi
    local kind rel kinds=() rels=() i
    while read -r kind rel; do
        kinds+=("$kind"); rels+=("$rel")
    done < "$manifest"
    for i in "${!kinds[@]}"; do
        case ${kinds[$i]} in
            file|link) rm -f "$destdir${rels[$i]}" ;;
            tree) rm -rf "$destdir${rels[$i]}" ;;   # our private folder, .pyc files included
        esac
    done
    for i in "${!kinds[@]}"; do
        [ "${kinds[$i]}" = saved ] || continue
        rel=${rels[$i]}
        if exists "$destdir$saved_rel$rel"; then
            mv "$destdir$saved_rel$rel" "$destdir$rel"
            say "restored $rel"
        fi
    done
    rm -f "$manifest"
    if [ -d "$destdir$saved_rel" ]; then
        find "$destdir$saved_rel" -depth -type d -empty -delete
        exists "$destdir$saved_rel" && say "kept $saved_rel: it holds files that could not be put back"
    fi
    # folders we made, innermost first; one where someone added a file stays
    for ((i = ${#kinds[@]} - 1; i >= 0; i--)); do
        [ "${kinds[$i]}" = dir ] || continue
        rel=${rels[$i]}
        [ -d "$destdir$rel" ] || continue
        rmdir "$destdir$rel" 2>/dev/null || say "kept $rel: it is not empty"
    done
    say "done"
}

case $action in
    install) do_install ;;
    uninstall) do_uninstall ;;
    *) echo "usage: install.sh install|uninstall DESTDIR PREFIX SRCDIR [VENV]" >&2; exit 2 ;;
esac
