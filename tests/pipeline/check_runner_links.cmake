# The production runner carries no ground-truth generator: no shared library
# of theirs (zint, freetype) among its NEEDED entries and none of their code
# (vigil::groundtruth symbols). The demo executable, which links them, is the
# control: the same checks must find them there, or they would prove nothing.
#   cmake -DRUNNER=path/to/vigil -DDEMO=path/to/vigil-demo -P check_runner_links.cmake
foreach(variable RUNNER DEMO)
  if(NOT EXISTS "${${variable}}")
    message(FATAL_ERROR "${variable}: no such file '${${variable}}'")
  endif()
endforeach()

# Sets <prefix>_LIBRARIES (generator libraries among NEEDED) and <prefix>_SYMBOLS
# (how many vigil::groundtruth symbols the binary defines).
function(inspect binary prefix)
  execute_process(COMMAND readelf --dynamic --wide "${binary}"
                  OUTPUT_VARIABLE dynamic RESULT_VARIABLE status ERROR_VARIABLE error)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "readelf ${binary}: ${error}")
  endif()
  string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*\\[[^]\n]*(zint|freetype)[^]\n]*\\]" libraries "${dynamic}")
  execute_process(COMMAND nm --demangle --defined-only "${binary}"
                  OUTPUT_VARIABLE symbols RESULT_VARIABLE status ERROR_VARIABLE error)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "nm ${binary}: ${error}")
  endif()
  string(REGEX MATCHALL "vigil::groundtruth::" code "${symbols}")
  list(LENGTH code code_count)
  set(${prefix}_LIBRARIES "${libraries}" PARENT_SCOPE)
  set(${prefix}_SYMBOLS ${code_count} PARENT_SCOPE)
endfunction()

inspect("${DEMO}" demo)
if(NOT demo_LIBRARIES OR demo_SYMBOLS EQUAL 0)
  message(FATAL_ERROR "the check is blind: ${DEMO} shows libraries '${demo_LIBRARIES}' and "
                      "${demo_SYMBOLS} ground-truth symbols, expected both")
endif()
inspect("${RUNNER}" runner)
if(runner_LIBRARIES)
  message(FATAL_ERROR "${RUNNER} needs ground-truth libraries: ${runner_LIBRARIES}")
endif()
if(NOT runner_SYMBOLS EQUAL 0)
  message(FATAL_ERROR "${RUNNER} holds ${runner_SYMBOLS} vigil::groundtruth symbols")
endif()
message(STATUS "${RUNNER}: no zint, freetype or ground-truth code (the demo has ${demo_SYMBOLS} symbols and "
               "${demo_LIBRARIES})")
