# Writes OUT, a header defining HESSQ_COMMIT as the source tree's short git hash ("-dirty" when
# tracked files differ from it; "unknown" outside git). Runs at every build, but rewrites OUT only
# when the text changes, so a new commit recompiles just the files that include it.
#   cmake -DSRC=<source dir> -DOUT=<header> -P commit.cmake
execute_process(COMMAND git rev-parse --short HEAD WORKING_DIRECTORY ${SRC}
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT commit)
  set(commit unknown)
else()
  execute_process(COMMAND git diff --quiet HEAD -- WORKING_DIRECTORY ${SRC} RESULT_VARIABLE dirty ERROR_QUIET)
  if(dirty)
    set(commit "${commit}-dirty")
  endif()
endif()
set(text "// Generated at build time by cmake/commit.cmake.\n#pragma once\n#define HESSQ_COMMIT \"${commit}\"\n")
set(old "")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT old STREQUAL text)
  file(WRITE ${OUT} "${text}")
endif()
