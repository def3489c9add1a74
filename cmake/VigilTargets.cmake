# Per-target build policy for Vigil: warnings, sanitizers and the test helper.
# Kept as functions (not global flags) so third-party headers and generated
# code are not held to our warning level.

option(VIGIL_WERROR "Treat compiler warnings as errors" OFF)
option(VIGIL_SANITIZE "Build with AddressSanitizer and UBSan" OFF)

function(vigil_target_defaults target)
  target_compile_features(${target} PUBLIC cxx_std_17)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual)
  if(VIGIL_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(VIGIL_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

# vigil_add_test(NAME name SOURCES a.cpp b.cpp LIBS lib1 lib2 [LABELS l] [TIMEOUT s])
# One GoogleTest executable registered with CTest. Every test sees the freshly
# built plugin through GST_PLUGIN_PATH and never a user's registry cache.
function(vigil_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  vigil_target_defaults(${T_NAME})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} vigil::testsupport GTest::gtest GTest::gmock)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  set_tests_properties(${T_NAME} PROPERTIES
    TIMEOUT ${T_TIMEOUT}
    LABELS "${T_LABELS}"
    ENVIRONMENT "${VIGIL_TEST_ENVIRONMENT}")
endfunction()
