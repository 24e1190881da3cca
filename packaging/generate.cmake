# Writes what the build generates from wfrun's own option tables (cmake -P, run by the build):
# man pages (gzipped, as Debian installs them) and the bash and zsh completion scripts.
# -DWFRUN=path/to/wfrun -DOUT=build/share
foreach(var WFRUN OUT)
  if(NOT ${var})
    message(FATAL_ERROR "generate.cmake needs -D${var}=...")
  endif()
endforeach()

# A sanitizer build's binary runs here too; a leak report must not fail the build.
set(ENV{ASAN_OPTIONS} "detect_leaks=0")
file(REMOVE_RECURSE ${OUT}/man ${OUT}/bash-completion ${OUT}/zsh)
file(MAKE_DIRECTORY ${OUT}/man/man1 ${OUT}/bash-completion/completions ${OUT}/zsh/vendor-completions)

execute_process(COMMAND ${WFRUN} __man ${OUT}/man/man1 RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "wfrun __man failed (${rc})")
endif()
file(GLOB pages ${OUT}/man/man1/*.1)
foreach(page ${pages})
  # -n: no name or time stamp in the header, so the output only changes with the text.
  execute_process(COMMAND gzip -9nf ${page} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gzip ${page} failed (${rc})")
  endif()
endforeach()

execute_process(COMMAND ${WFRUN} __completion bash
                OUTPUT_FILE ${OUT}/bash-completion/completions/wfrun RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "wfrun __completion bash failed (${rc})")
endif()
execute_process(COMMAND ${WFRUN} __completion zsh
                OUTPUT_FILE ${OUT}/zsh/vendor-completions/_wfrun RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "wfrun __completion zsh failed (${rc})")
endif()
file(TOUCH ${OUT}/generated.stamp)
