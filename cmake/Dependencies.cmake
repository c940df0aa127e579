# libxml2 and SQLite: Debian's -dev packages natively; static builds from Debian sources for mingw.
if(CMAKE_CROSSCOMPILING AND WIN32)
  # scripts/build-windows-deps.sh installs them into this prefix (see cmake/mingw-w64-x86_64.cmake).
  if(NOT BG_WINDOWS_DEPS)
    set(BG_WINDOWS_DEPS "${CMAKE_SOURCE_DIR}/.deps/mingw" CACHE PATH "Prefix of the mingw builds of libxml2 and SQLite")
  endif()
  list(PREPEND CMAKE_FIND_ROOT_PATH "${BG_WINDOWS_DEPS}")
  list(PREPEND CMAKE_PREFIX_PATH "${BG_WINDOWS_DEPS}")
endif()
find_package(LibXml2 REQUIRED)
find_package(SQLite3 REQUIRED)
if(CMAKE_CROSSCOMPILING AND WIN32)
  # The static libxml2 needs LIBXML_STATIC in every user, and ws2_32/bcrypt from Windows.
  set_property(TARGET LibXml2::LibXml2 APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS LIBXML_STATIC)
  set_property(TARGET LibXml2::LibXml2 APPEND PROPERTY INTERFACE_LINK_LIBRARIES ws2_32 bcrypt)
endif()
