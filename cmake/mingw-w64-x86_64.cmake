# CMake toolchain for 64-bit Windows with Debian's mingw-w64; tests run under Wine (cmake/wine-run.sh).
# Use: cmake -S . -B build-win -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake
# The Windows version macros are not set here: they are defined once, in cmake/Warnings.cmake.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(BG_MINGW_TRIPLET x86_64-w64-mingw32)
# The win32-threads flavour of Debian's compiler (its default alternative): the runtime needs no
# libwinpthread; pinned so a machine whose alternative points at -posix builds the same thing.
find_program(CMAKE_C_COMPILER NAMES ${BG_MINGW_TRIPLET}-gcc-win32 ${BG_MINGW_TRIPLET}-gcc REQUIRED)
set(CMAKE_RC_COMPILER ${BG_MINGW_TRIPLET}-windres)
set(CMAKE_AR ${BG_MINGW_TRIPLET}-ar CACHE FILEPATH "Archiver")
set(CMAKE_RANLIB ${BG_MINGW_TRIPLET}-ranlib CACHE FILEPATH "Ranlib")
set(CMAKE_OBJDUMP ${BG_MINGW_TRIPLET}-objdump CACHE FILEPATH "Objdump of the target")

# Headers and libraries come only from the mingw sysroot and from the static libxml2/SQLite that
# scripts/build-windows-deps.sh installs (never from the host's /usr/include); programs from the host.
get_filename_component(_bg_top "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
if(NOT DEFINED BG_WINDOWS_DEPS)
  set(BG_WINDOWS_DEPS "${_bg_top}/.deps/mingw")
endif()
set(CMAKE_FIND_ROOT_PATH "${BG_WINDOWS_DEPS}" /usr/${BG_MINGW_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# FindLibXml2 asks pkg-config for hints: point it at the mingw prefix, never at the host's .pc files.
set(ENV{PKG_CONFIG_LIBDIR} "${BG_WINDOWS_DEPS}/lib/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# Tests (add_test with a target as COMMAND) and try_run go through Wine. The wrapper sets the Wine
# prefix, WINEDEBUG and WINEARCH itself, so a bare `ctest --test-dir build-win` works too.
set(CMAKE_CROSSCOMPILING_EMULATOR "${CMAKE_CURRENT_LIST_DIR}/wine-run.sh")
unset(_bg_top)
