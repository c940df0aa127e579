# Runs a program (under the cross-compiling emulator) and checks its exit status and its output.
# cmake -DEMULATOR="wine-run.sh" -DPROGRAM=x.exe -DARGS="a;b" -DEXPECT_STATUS=0
#       [-DEXPECT_STDOUT=regex] [-DEXPECT_STDERR=regex] [-DEXPECT_CRLF=ON] -P run_expect.cmake
# EXPECT_CRLF: every stdout line ends in CR LF (the Windows C runtime's text mode).
# ctest's PASS_REGULAR_EXPRESSION would ignore the exit status; this checks both.
if(NOT PROGRAM OR NOT DEFINED EXPECT_STATUS)
  message(FATAL_ERROR "usage: cmake -DPROGRAM=... -DEXPECT_STATUS=... -P run_expect.cmake")
endif()
# Through files, not OUTPUT_VARIABLE: execute_process drops the CR of CR LF, and the line ends are checked.
string(MAKE_C_IDENTIFIER "${PROGRAM}_${ARGS}" capture)
set(capture "${CMAKE_CURRENT_BINARY_DIR}/run_expect_${capture}")
execute_process(COMMAND ${EMULATOR} ${PROGRAM} ${ARGS} RESULT_VARIABLE status OUTPUT_FILE "${capture}.out"
                ERROR_FILE "${capture}.err")
file(READ "${capture}.out" out)
file(READ "${capture}.err" err)
# file(READ) drops CRs too; the raw bytes, as space-separated hex pairs, keep them.
file(READ "${capture}.out" out_hex HEX)
string(REGEX REPLACE "(..)" " \\1" out_hex "${out_hex}")
file(REMOVE "${capture}.out" "${capture}.err")
message(STATUS "exit status ${status}\n--- stdout\n${out}--- stderr\n${err}---")
set(failures "")
if(NOT status STREQUAL "${EXPECT_STATUS}")
  list(APPEND failures "exit status ${status}, expected ${EXPECT_STATUS}")
endif()
if(DEFINED EXPECT_STDOUT AND NOT out MATCHES "${EXPECT_STDOUT}")
  list(APPEND failures "stdout does not match '${EXPECT_STDOUT}'")
endif()
if(DEFINED EXPECT_STDERR AND NOT err MATCHES "${EXPECT_STDERR}")
  list(APPEND failures "stderr does not match '${EXPECT_STDERR}'")
endif()
# Line ends: a program writing "\r\n" to a text-mode stream produces CR CR LF on Windows, which
# CSV and JSON readers take for an extra line. Every line must end the same way, with one CR at most.
string(REGEX MATCHALL " 0a" lf "${out_hex}")
string(REGEX MATCHALL " 0d 0a" crlf "${out_hex}")
string(REGEX MATCHALL " 0d 0d 0a" crcrlf "${out_hex}")
list(LENGTH lf lf_count)
list(LENGTH crlf crlf_count)
list(LENGTH crcrlf crcrlf_count)
if(crcrlf_count GREATER 0)
  list(APPEND failures "stdout has ${crcrlf_count} line(s) ending in CR CR LF")
endif()
if(EXPECT_CRLF AND (lf_count EQUAL 0 OR NOT lf_count EQUAL crlf_count))
  list(APPEND failures "stdout has ${lf_count} line ends, ${crlf_count} of them CR LF (not Windows text mode?)")
endif()
if(failures)
  string(REPLACE ";" "\n  " text "${failures}")
  message(FATAL_ERROR "FAIL:\n  ${text}")
endif()
