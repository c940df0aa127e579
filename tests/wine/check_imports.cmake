# Fails unless every DLL that the given Windows executables import is a Windows system DLL (static build check).
# cmake -DOBJDUMP=x86_64-w64-mingw32-objdump -DFILES="a.exe;b.exe" [-DALLOWED="regex;..."] -P check_imports.cmake
# The static runtime promise: bitsguard.exe runs with nothing beside it, so no libwinpthread, libgcc,
# libxml2 or libsqlite3 DLL may appear among its imports.
if(NOT OBJDUMP OR NOT FILES)
  message(FATAL_ERROR "usage: cmake -DOBJDUMP=... -DFILES=... -P check_imports.cmake")
endif()
if(NOT DEFINED ALLOWED)
  # Case-insensitive full-name patterns of the DLLs Windows itself provides.
  set(ALLOWED
      "kernel32\\.dll" "kernelbase\\.dll" "ntdll\\.dll" "msvcrt\\.dll" "ucrtbase\\.dll" "api-ms-win-[a-z0-9-]+\\.dll"
      "advapi32\\.dll" "sechost\\.dll" "ws2_32\\.dll" "bcrypt\\.dll" "crypt32\\.dll" "secur32\\.dll" "user32\\.dll"
      "gdi32\\.dll" "shell32\\.dll" "shlwapi\\.dll" "ole32\\.dll" "oleaut32\\.dll" "rpcrt4\\.dll" "wevtapi\\.dll"
      "netapi32\\.dll" "iphlpapi\\.dll" "dnsapi\\.dll" "userenv\\.dll" "wtsapi32\\.dll" "version\\.dll"
      "psapi\\.dll" "dbghelp\\.dll" "tdh\\.dll" "wintrust\\.dll" "authz\\.dll" "powrprof\\.dll" "mpr\\.dll"
      "setupapi\\.dll" "cfgmgr32\\.dll" "comctl32\\.dll")
endif()

set(failures 0)
foreach(file IN LISTS FILES)
  execute_process(COMMAND ${OBJDUMP} -p ${file} OUTPUT_VARIABLE dump ERROR_VARIABLE err RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(SEND_ERROR "${OBJDUMP} -p ${file} failed (${status}): ${err}")
    math(EXPR failures "${failures} + 1")
    continue()
  endif()
  string(REGEX MATCHALL "DLL Name: [^\r\n]+" lines "${dump}")
  if(NOT lines)
    # A PE program always imports at least KERNEL32; no import table means objdump read something else.
    message(SEND_ERROR "${file}: no imported DLL found in the objdump output")
    math(EXPR failures "${failures} + 1")
    continue()
  endif()
  set(names "")
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "^DLL Name: *" "" dll "${line}")
    string(STRIP "${dll}" dll)
    string(TOLOWER "${dll}" lower)
    list(APPEND names ${dll})
    set(ok FALSE)
    foreach(pattern IN LISTS ALLOWED)
      if(lower MATCHES "^${pattern}$")
        set(ok TRUE)
        break()
      endif()
    endforeach()
    if(NOT ok)
      # One unwrapped line for tests and logs to match, then the error itself.
      message(STATUS "import not allowed: ${dll} in ${file}")
      message(SEND_ERROR "${file}: imports ${dll}, which is not a Windows system DLL (link it statically)")
      math(EXPR failures "${failures} + 1")
    endif()
  endforeach()
  message(STATUS "${file}: imports ${names}")
endforeach()
if(failures GREATER 0)
  message(FATAL_ERROR "${failures} import problem(s)")
endif()
