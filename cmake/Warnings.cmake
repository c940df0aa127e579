# Compiler warnings: errors on both the native and the mingw build, every build type (scripts/test.sh builds
# Release too). A packager whose newer compiler finds new warnings can keep them warnings: -DBG_WERROR=OFF.
option(BG_WERROR "Treat compiler warnings as errors" ON)
if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
  add_compile_options(-Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Wvla
                      -Wpointer-arith)
  if(BG_WERROR)
    add_compile_options(-Werror)
  endif()
endif()
if(WIN32)
  # Windows version macros, defined once: Windows 10 / Server 2016 and later. winevt.h needs >= 0x0600.
  add_compile_definitions(_WIN32_WINNT=0x0A00 WINVER=0x0A00 NTDDI_VERSION=0x0A000000 UNICODE _UNICODE
                          WIN32_LEAN_AND_MEAN __USE_MINGW_ANSI_STDIO=1)
endif()
