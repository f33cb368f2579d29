# One helper per kind of target. Every Ferry library is `ferry_<name>` with the
# alias `ferry::<name>`; include paths are rooted at src/ so headers read
# `#include "ferry/common/status.h"`.

# -Wno-restrict: GCC 12 at -O2/-O3 reports false -Wrestrict overlaps inside
# std::string concatenation (GCC bug 105329); it fires on correct code.
set(FERRY_WARNINGS -Wall -Wextra -Werror -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(APPEND FERRY_WARNINGS -Wno-restrict)
endif()

# ferry_library(NAME name SOURCES a.cc b.cc DEPS ferry::common absl::status ...)
function(ferry_library)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_library(ferry_${ARG_NAME} STATIC ${ARG_SOURCES})
  add_library(ferry::${ARG_NAME} ALIAS ferry_${ARG_NAME})
  target_include_directories(ferry_${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(ferry_${ARG_NAME} PRIVATE ${FERRY_WARNINGS})
  target_link_libraries(ferry_${ARG_NAME} PUBLIC ${ARG_DEPS})
endfunction()

# ferry_test(NAME name SOURCES a_test.cc DEPS ferry::x)  -> ctest entry `name`
function(ferry_test)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS" ${ARGN})
  if(NOT FERRY_BUILD_TESTS)
    return()
  endif()
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_compile_options(${ARG_NAME} PRIVATE ${FERRY_WARNINGS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME})
  set_tests_properties(${ARG_NAME} PROPERTIES TIMEOUT 300)
endfunction()

# ferry_fuzzer(NAME name SOURCES fuzz.cc DEPS ferry::x CORPUS dir)
# With clang + FERRY_BUILD_FUZZERS it is a libFuzzer binary. Otherwise it is
# built as a plain program (tests/fuzz/replay_main.cc) that replays every file
# in the corpus, registered with ctest so corpora and crash inputs stay
# regression tests in every build.
function(ferry_fuzzer)
  cmake_parse_arguments(ARG "" "NAME;CORPUS" "SOURCES;DEPS" ${ARGN})
  if(NOT FERRY_BUILD_TESTS)
    return()
  endif()
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_compile_options(${ARG_NAME} PRIVATE ${FERRY_WARNINGS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  if(FERRY_BUILD_FUZZERS AND CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    target_compile_options(${ARG_NAME} PRIVATE -fsanitize=fuzzer)
    target_link_options(${ARG_NAME} PRIVATE -fsanitize=fuzzer)
    add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME} -runs=2000 ${ARG_CORPUS})
  else()
    target_sources(${ARG_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.cc)
    add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME} ${ARG_CORPUS})
  endif()
endfunction()
