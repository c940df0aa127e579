#!/usr/bin/env bash
# Builds static libxml2, SQLite and libevtx (with libbfio) for x86_64-w64-mingw32 from Debian's source packages into .deps/mingw (cached).
#
# Debian ships no mingw build of these libraries, but its source packages carry Debian's security
# patches, so we build from those (apt-get source applies the patches). Everything lives under the
# git-ignored .deps/: a private apt state (deb-src entries derived at run time from the machine's own
# debian.sources, so no mirror host is written into the repository), the unpacked sources, the build
# trees and the install prefix. Each library has a stamp file keyed by its source package version and
# by the recipe below; when the stamp matches, nothing is fetched or compiled again.
#
# usage: scripts/build-windows-deps.sh [--update] [--force]
#   --update  fetch the deb-src index again (a newer Debian revision, e.g. a security fix, is then
#             built because its version no longer matches the stamp); without it the index fetched
#             on the first run is reused and the run needs no network at all.
#   --force   rebuild every library even when its stamp matches.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
deps="$top/.deps"
prefix="$deps/mingw"
srcdir="$deps/src"
aptdir="$deps/apt"
host=x86_64-w64-mingw32
jobs=$(nproc 2>/dev/null || echo 2)
# The same compiler as cmake/mingw-w64-x86_64.cmake: the win32-threads flavour when installed.
cc="$host-gcc"
command -v "$host-gcc-win32" >/dev/null 2>&1 && cc="$host-gcc-win32"
force=0
update=0
for arg in "$@"; do
    case "$arg" in
    --force) force=1 ;;
    --update) update=1 ;;
    *)
        echo "usage: $0 [--update] [--force]" >&2
        exit 2
        ;;
    esac
done

log() { echo "build-windows-deps: $*"; }
die() {
    echo "build-windows-deps: error: $*" >&2
    exit 1
}

for tool in "$cc" "$host-ar" "$host-nm" "$host-ranlib" cmake ninja apt-get dpkg-source tclsh make sha256sum pkg-config; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (run scripts/setup.sh)"
done

# The recipes. Their text is part of the stamp, so changing an option rebuilds the library.
# libxml2: no network code (HTTP/FTP), no optional compression or charset libraries, no Python;
# Win32 threads rather than winpthread (mingw ships a pthread.h that libxml2 would otherwise prefer,
# which would pull libwinpthread into every user).
libxml2_cmake_opts=(
    -DBUILD_SHARED_LIBS=OFF
    -DLIBXML2_WITH_HTTP=OFF -DLIBXML2_WITH_FTP=OFF
    -DLIBXML2_WITH_ICONV=OFF -DLIBXML2_WITH_ICU=OFF -DLIBXML2_WITH_LZMA=OFF -DLIBXML2_WITH_ZLIB=OFF
    -DLIBXML2_WITH_PYTHON=OFF -DLIBXML2_WITH_TESTS=OFF -DLIBXML2_WITH_PROGRAMS=OFF
    -DLIBXML2_WITH_MODULES=OFF -DLIBXML2_WITH_THREADS=ON -DHAVE_PTHREAD_H=OFF
    -DCMAKE_BUILD_TYPE=Release
)
# SQLite: thread-safe (the service writes from a callback thread), no run-time extension loading,
# double-quoted string literals rejected as in current SQLite advice.
sqlite_cflags=(
    -O2 -DNDEBUG
    -DSQLITE_THREADSAFE=1 -DSQLITE_OMIT_LOAD_EXTENSION=1 -DSQLITE_DQS=0
    -DSQLITE_DEFAULT_MEMSTATUS=0 -DSQLITE_OMIT_DEPRECATED=1 -DSQLITE_USE_ALLOCA=1
)
# libbfio and libevtx (libyal, autotools): static only, no NLS, no Python, no threads (the scan reads
# one file on one thread; libcthreads would otherwise pull in winpthread or Win32 thread code for nothing),
# Win32 API file I/O. Debian's libevtx build-depends on libbfio-dev alone: libbfio is its own source
# package and is found through pkg-config, while libcerror, libcdata, libfwevt, libuna and the other
# libyal libraries are the copies bundled in the libevtx tarball (the --with-X=no below says so rather
# than leaving it to detection). We build the same way: Debian's libbfio first, then libevtx against it.
libyal_configure_opts=(
    --host="$host" --enable-static --disable-shared --disable-nls --disable-rpath --enable-winapi
    --disable-multi-threading-support --disable-python --disable-python2 --disable-python3
    --disable-dependency-tracking
)
libevtx_local_libs=(
    libcerror libcthreads libcdata libclocale libcnotify libcsplit libuna libcfile libcpath
    libcdirectory libexe libfcache libfdata libfdatetime libfguid libfvalue libfwevt libfwnt libregf libwrc
)
libyal_cflags="-O2 -DNDEBUG"
recipe_id() { printf '%s\n' "$@" | sha256sum | cut -c1-16; }
libxml2_recipe=$(recipe_id "${libxml2_cmake_opts[@]}" "$cc")
sqlite_recipe=$(recipe_id "${sqlite_cflags[@]}" "$cc")
libbfio_recipe=$(recipe_id "${libyal_configure_opts[@]}" "$libyal_cflags" "$cc")
libevtx_recipe=$(recipe_id "${libyal_configure_opts[@]}" "${libevtx_local_libs[@]}" "$libyal_cflags" "$cc" "$libbfio_recipe")

# Private apt state: deb-src entries with the same URIs/Suites/Components as the machine's deb entries.
apt_opts=(
    -o "Dir::Etc::SourceList=/dev/null"
    -o "Dir::Etc::SourceParts=$aptdir/sources.list.d"
    -o "Dir::State::Lists=$aptdir/lists"
    -o "Dir::Cache=$aptdir/cache"
)
apt_sources_write() {
    local system=/etc/apt/sources.list.d/debian.sources
    [ -r "$system" ] || die "$system not found: cannot derive the deb-src entries"
    mkdir -p "$aptdir/sources.list.d" "$aptdir/lists/partial" "$aptdir/cache/archives/partial"
    # Deb822: turn every "Types:" line into deb-src, keep URIs, Suites, Components and Signed-By.
    awk '/^Types:/ { print "Types: deb-src"; next } { print }' "$system" >"$aptdir/sources.list.d/deb-src.sources.new"
    if ! cmp -s "$aptdir/sources.list.d/deb-src.sources.new" "$aptdir/sources.list.d/deb-src.sources" 2>/dev/null; then
        mv "$aptdir/sources.list.d/deb-src.sources.new" "$aptdir/sources.list.d/deb-src.sources"
        rm -f "$aptdir/updated"
    else
        rm -f "$aptdir/sources.list.d/deb-src.sources.new"
    fi
}

# Prints the version of the source package that apt-get source would fetch, from the local index only.
src_version() {
    local pkg=$1 dsc
    dsc=$(apt-get "${apt_opts[@]}" source --print-uris "$pkg" 2>/dev/null | awk '{ print $2 }' | grep -E "^${pkg}_.*\.dsc$" | head -n 1)
    [ -n "$dsc" ] || return 1
    dsc=${dsc#"${pkg}_"}
    echo "${dsc%.dsc}"
}

# The source index is fetched once (metadata only); later runs resolve versions offline.
apt_index_ready() {
    apt_sources_write
    if [ "$update" -eq 0 ] && [ -f "$aptdir/updated" ] && src_version libxml2 >/dev/null && src_version sqlite3 >/dev/null &&
        src_version libbfio >/dev/null && src_version libevtx >/dev/null; then
        return 0
    fi
    log "fetching the deb-src index (private apt state in .deps/apt)"
    apt-get "${apt_opts[@]}" -qq update >"$aptdir/update.log" 2>&1 || {
        cat "$aptdir/update.log" >&2
        die "apt-get update of the deb-src index failed"
    }
    touch "$aptdir/updated"
}

# Fetches and unpacks (with Debian's patches) one source package version; prints the unpacked directory.
src_fetch() {
    local pkg=$1 version=$2
    local dir="$srcdir/${pkg}_$version"
    if [ -f "$dir/.fetched" ]; then
        log "reusing the $pkg $version source in ${dir#"$top/"}" >&2
    else
        log "fetching $pkg $version (apt-get source applies Debian's patches)" >&2
        rm -rf "$dir"
        mkdir -p "$dir"
        (cd "$dir" && apt-get "${apt_opts[@]}" -qq source "$pkg=$version") >"$dir.fetch.log" 2>&1 || {
            cat "$dir.fetch.log" >&2
            die "apt-get source $pkg=$version failed"
        }
        touch "$dir/.fetched"
    fi
    local tree
    tree=$(find "$dir" -mindepth 1 -maxdepth 1 -type d | head -n 1)
    [ -n "$tree" ] || die "no unpacked source tree in $dir"
    echo "$tree"
}

build_libxml2() {
    local version=$1
    local stamp="$prefix/.stamp-libxml2" want="libxml2 $version recipe $libxml2_recipe"
    if [ "$force" -eq 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$prefix/lib/libxml2.a" ]; then
        log "reusing libxml2 $version (stamp matches, nothing fetched or compiled)"
        return 0
    fi
    local tree bld="$srcdir/build-libxml2" t0=$SECONDS
    tree=$(src_fetch libxml2 "$version")
    log "building libxml2 $version for $host"
    rm -rf "$bld"
    cmake -S "$tree" -B "$bld" -G Ninja \
        -DCMAKE_TOOLCHAIN_FILE="$top/cmake/mingw-w64-x86_64.cmake" \
        -DCMAKE_INSTALL_PREFIX="$prefix" "${libxml2_cmake_opts[@]}" >"$srcdir/libxml2.configure.log" 2>&1 || {
        cat "$srcdir/libxml2.configure.log" >&2
        die "libxml2 configure failed"
    }
    cmake --build "$bld" -j "$jobs" >"$srcdir/libxml2.build.log" 2>&1 || {
        tail -n 50 "$srcdir/libxml2.build.log" >&2
        die "libxml2 build failed"
    }
    cmake --install "$bld" >"$srcdir/libxml2.install.log" 2>&1 || die "libxml2 install failed"
    # The no-network promise is checked, not assumed: the installed header must leave HTTP and FTP
    # undefined, and the library must define none of the nanohttp/nanoftp functions.
    printf '#include <libxml/xmlversion.h>\n#if defined(LIBXML_HTTP_ENABLED) || defined(LIBXML_FTP_ENABLED)\n#error network\n#endif\n' |
        "$cc" -E -I"$prefix/include/libxml2" -x c - -o /dev/null || die "libxml2 headers enable HTTP/FTP"
    if "$host-nm" --defined-only "$prefix/lib/libxml2.a" 2>/dev/null | grep -E ' T xmlNano(HTTP|FTP)'; then
        die "libxml2 was built with HTTP/FTP code"
    fi
    echo "$want" >"$stamp"
    log "libxml2 built in $((SECONDS - t0)) s"
}

build_sqlite() {
    local version=$1
    local stamp="$prefix/.stamp-sqlite3" want="sqlite3 $version recipe $sqlite_recipe"
    if [ "$force" -eq 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$prefix/lib/libsqlite3.a" ]; then
        log "reusing SQLite $version (stamp matches, nothing fetched or compiled)"
        return 0
    fi
    local tree bld="$srcdir/build-sqlite3" t0=$SECONDS
    tree=$(src_fetch sqlite3 "$version")
    log "building SQLite $version for $host (amalgamation generated natively, compiled with $cc)"
    rm -rf "$bld"
    mkdir -p "$bld"
    (cd "$bld" && "$tree/configure" --disable-tcl >"$srcdir/sqlite3.configure.log" 2>&1) || {
        tail -n 30 "$srcdir/sqlite3.configure.log" >&2
        die "SQLite configure failed"
    }
    make -C "$bld" -j "$jobs" sqlite3.c >"$srcdir/sqlite3.amalgamation.log" 2>&1 || {
        tail -n 30 "$srcdir/sqlite3.amalgamation.log" >&2
        die "SQLite amalgamation failed"
    }
    "$cc" "${sqlite_cflags[@]}" -c "$bld/sqlite3.c" -o "$bld/sqlite3.o" || die "SQLite compile failed"
    mkdir -p "$prefix/lib" "$prefix/include"
    rm -f "$prefix/lib/libsqlite3.a"
    "$host-ar" rcs "$prefix/lib/libsqlite3.a" "$bld/sqlite3.o"
    install -m 644 "$bld/sqlite3.h" "$bld/sqlite3ext.h" "$prefix/include/"
    echo "$want" >"$stamp"
    log "SQLite built in $((SECONDS - t0)) s"
}

# Configures, builds and installs one libyal library (autotools) for mingw. The tarball's generated
# configure and Makefile.in are used as they are (no autotools needed): Debian's patches touch only
# configure.ac (libevtx: AC_PATH_TOOL instead of AC_PATH_PROG for pkg-config, a cross-build fix whose
# effect we get by passing PKGCONFIG) and test sources, but a patched configure.ac is newer than the
# files generated from it and make would rerun aclocal; their times are set back in order so it does not.
libyal_build() {
    local name=$1 tree=$2
    shift 2
    local bld="$srcdir/build-$name"
    rm -rf "$bld"
    cp -a "$tree" "$bld"
    find "$bld" -exec touch -h -d '2000-01-01 00:00:00' {} +
    touch -d '2000-01-01 00:00:01' "$bld/aclocal.m4"
    find "$bld" -name Makefile.in -exec touch -d '2000-01-01 00:00:02' {} +
    touch -d '2000-01-01 00:00:02' "$bld/configure" "$bld/common/config.h.in"
    (cd "$bld" && PKGCONFIG="$(command -v pkg-config)" PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" PKG_CONFIG_PATH="" \
        CC="$cc" AR="$host-ar" RANLIB="$host-ranlib" CFLAGS="$libyal_cflags" \
        ./configure --prefix="$prefix" "${libyal_configure_opts[@]}" "$@") >"$srcdir/$name.configure.log" 2>&1 || {
        tail -n 30 "$srcdir/$name.configure.log" >&2
        die "$name configure failed"
    }
    # Only the library and what it is made of: not the command-line tools (evtxexport.exe ...) nor the
    # libraries only they use (libexe, libregf, libwrc, libcdirectory: message resources), the tests,
    # translations, manual pages or Python bindings.
    local subdirs
    subdirs=$(awk '/^SUBDIRS = /{f=1} f{print} f&&!/\\$/{exit}' "$bld/Makefile.am" | tr -d '\\' |
        tr -s ' \t' '\n' | grep -vxE 'SUBDIRS|=|evtxtools|libexe|libregf|libwrc|libcdirectory|pyevtx.*|po|manuals|tests|ossfuzz|msvscpp|dpkg|' | tr '\n' ' ')
    make -C "$bld" -j "$jobs" SUBDIRS="$subdirs" >"$srcdir/$name.build.log" 2>&1 || {
        tail -n 50 "$srcdir/$name.build.log" >&2
        die "$name build failed"
    }
    make -C "$bld" SUBDIRS="$subdirs" install >"$srcdir/$name.install.log" 2>&1 || die "$name install failed"
    rm -f "$prefix/lib/$name.la"
}

build_libbfio() {
    local version=$1
    local stamp="$prefix/.stamp-libbfio" want="libbfio $version recipe $libbfio_recipe"
    if [ "$force" -eq 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$prefix/lib/libbfio.a" ]; then
        log "reusing libbfio $version (stamp matches, nothing fetched or compiled)"
        return 0
    fi
    local tree t0=$SECONDS
    tree=$(src_fetch libbfio "$version")
    log "building libbfio $version for $host"
    rm -f "$prefix/.stamp-libevtx" # libevtx links against this build
    libyal_build libbfio "$tree"
    echo "$want" >"$stamp"
    log "libbfio built in $((SECONDS - t0)) s"
}

build_libevtx() {
    local version=$1
    local stamp="$prefix/.stamp-libevtx" want="libevtx $version recipe $libevtx_recipe"
    if [ "$force" -eq 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$prefix/lib/libevtx.a" ]; then
        log "reusing libevtx $version (stamp matches, nothing fetched or compiled)"
        return 0
    fi
    local tree t0=$SECONDS lib without=()
    tree=$(src_fetch libevtx "$version")
    for lib in "${libevtx_local_libs[@]}"; do
        without+=("--with-$lib=no")
    done
    log "building libevtx $version for $host (against libbfio from its own Debian source package)"
    # The tools (evtxexport, evtxinfo) are not built: only the library is installed.
    libyal_build libevtx "$tree" --with-libbfio="$prefix" "${without[@]}"
    grep -q "^#define HAVE_LOCAL_LIBBFIO 1" "$srcdir/build-libevtx/common/config.h" &&
        die "libevtx used its bundled libbfio instead of Debian's"
    # libevtx has no network code; the archive must not reference the socket API either.
    if "$host-nm" --undefined-only "$prefix/lib/libevtx.a" "$prefix/lib/libbfio.a" 2>/dev/null | grep -E ' U (WSAStartup|connect|socket)$'; then
        die "libevtx/libbfio reference network functions"
    fi
    echo "$want" >"$stamp"
    log "libevtx built in $((SECONDS - t0)) s"
}

mkdir -p "$srcdir" "$prefix"
# One run at a time: parallel legs (or engineers) share .deps.
exec 9>"$deps/.lock"
if ! flock -n 9; then
    log "waiting for another run to finish"
    flock 9
fi
apt_index_ready
libxml2_version=$(src_version libxml2) || die "no libxml2 source package in the deb-src index"
sqlite_version=$(src_version sqlite3) || die "no sqlite3 source package in the deb-src index"
build_libxml2 "$libxml2_version"
libbfio_version=$(src_version libbfio) || die "no libbfio source package in the deb-src index"
libevtx_version=$(src_version libevtx) || die "no libevtx source package in the deb-src index"
build_sqlite "$sqlite_version"
build_libbfio "$libbfio_version"
build_libevtx "$libevtx_version"
log "ready: $prefix (libxml2 $libxml2_version, SQLite $sqlite_version, libbfio $libbfio_version, libevtx $libevtx_version)"
