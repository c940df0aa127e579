# libxml2, SQLite and libevtx (with libbfio): Debian's -dev packages natively; static builds from Debian sources for mingw.
if(CMAKE_CROSSCOMPILING AND WIN32)
  # scripts/build-windows-deps.sh installs them into this prefix; cmake/mingw-w64-x86_64.cmake already
  # puts it first in CMAKE_FIND_ROOT_PATH (this also covers a toolchain file of one's own).
  if(NOT BG_WINDOWS_DEPS)
    set(BG_WINDOWS_DEPS "${CMAKE_SOURCE_DIR}/.deps/mingw" CACHE PATH "Prefix of the mingw builds of libxml2 and SQLite")
  endif()
  if(NOT EXISTS "${BG_WINDOWS_DEPS}/lib/libxml2.a"
     OR NOT EXISTS "${BG_WINDOWS_DEPS}/lib/libsqlite3.a"
     OR NOT EXISTS "${BG_WINDOWS_DEPS}/lib/libevtx.a")
    message(FATAL_ERROR "No mingw libxml2/SQLite/libevtx in ${BG_WINDOWS_DEPS}: run scripts/build-windows-deps.sh first "
                        "(scripts/test-windows.sh does).")
  endif()
  list(PREPEND CMAKE_FIND_ROOT_PATH "${BG_WINDOWS_DEPS}")
  list(REMOVE_DUPLICATES CMAKE_FIND_ROOT_PATH)
  # Only the static archives: a stray import library must never turn into a DLL dependency.
  set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
endif()
find_package(LibXml2 REQUIRED)
find_package(SQLite3 REQUIRED)
# libevtx has no CMake package: its header and library, and libbfio's (libevtx.h includes libbfio.h, and
# the .evtx reader hands libevtx a libbfio handle of its own). Debian's libevtx links libbfio itself; the
# static mingw archive needs it named after it.
find_path(BG_LIBEVTX_INCLUDE_DIR libevtx.h REQUIRED)
find_path(BG_LIBBFIO_INCLUDE_DIR libbfio.h REQUIRED)
find_library(BG_LIBEVTX_LIBRARY evtx REQUIRED)
find_library(BG_LIBBFIO_LIBRARY bfio REQUIRED)
add_library(bg_libevtx INTERFACE)
target_include_directories(bg_libevtx SYSTEM INTERFACE ${BG_LIBEVTX_INCLUDE_DIR} ${BG_LIBBFIO_INCLUDE_DIR})
target_link_libraries(bg_libevtx INTERFACE ${BG_LIBEVTX_LIBRARY} ${BG_LIBBFIO_LIBRARY})
if(CMAKE_CROSSCOMPILING AND WIN32)
  # The static libxml2 needs LIBXML_STATIC in every user (else its headers declare dllimport symbols);
  # it is built with Win32 threads and without network code, so it needs nothing else from Windows.
  # ws2_32/bcrypt stay listed for newer libxml2 releases (2.11+ use BCryptGenRandom).
  set_property(TARGET LibXml2::LibXml2 APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS LIBXML_STATIC)
  set_property(TARGET LibXml2::LibXml2 APPEND PROPERTY INTERFACE_LINK_LIBRARIES ws2_32 bcrypt)
endif()
