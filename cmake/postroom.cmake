# Adds every immediate child folder of DIR that has a CMakeLists.txt, so a new library or
# service is one folder and no edit of a shared list.
function(postroom_add_subdirectories dir)
  file(GLOB children LIST_DIRECTORIES true CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/*)
  list(SORT children)
  foreach(child IN LISTS children)
    if(IS_DIRECTORY ${child} AND EXISTS ${child}/CMakeLists.txt)
      add_subdirectory(${child})
    endif()
  endforeach()
endfunction()

# A domain core must not reach the network or the database directly: the forced include
# poisons the grpc and pqxx identifiers, so including their headers fails to compile.
function(postroom_core_guard target)
  target_compile_options(${target} PRIVATE -include ${PROJECT_SOURCE_DIR}/cmake/core_guard.h)
endfunction()

# postroom_test(NAME name SOURCES ... LIBS ... [LABELS unit|pg|e2e] [TIMEOUT s])
# One GoogleTest binary, registered as one ctest test carrying its labels.
function(postroom_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  set_target_properties(${T_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} postroom_test_support GTest::gmock GTest::gtest_main)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "POSTROOM_SOURCE_DIR=${PROJECT_SOURCE_DIR};POSTROOM_BINARY_DIR=${CMAKE_BINARY_DIR}")
endfunction()
