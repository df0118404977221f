# Small helpers so each folder's CMakeLists stays a few lines.

# winnow_library(NAME DIR DEPS...): a static library from every .cc directly in DIR.
function(winnow_library name dir)
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/*.cc)
  if(NOT srcs)
    add_library(${name} INTERFACE)
    target_link_libraries(${name} INTERFACE ${ARGN})
    return()
  endif()
  add_library(${name} STATIC ${srcs})
  target_link_libraries(${name} PUBLIC ${ARGN})
endfunction()

# winnow_test(NAME DIR DEPS...): one GoogleTest binary from every *_test.cc in DIR, registered
# with ctest. Tests find the shared data through WINNOW_SHARED_DIR and built tools through
# WINNOW_BINARY_DIR.
function(winnow_test name dir)
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/*_test.cc
       ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/*_helper.cc)
  if(NOT srcs)
    return()
  endif()
  add_executable(${name} ${srcs})
  target_link_libraries(${name} PRIVATE ${ARGN} GTest::gtest GTest::gtest_main GTest::gmock)
  target_compile_definitions(${name} PRIVATE
    WINNOW_SHARED_DIR="${CMAKE_SOURCE_DIR}/../shared"
    WINNOW_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
    WINNOW_BINARY_DIR="${CMAKE_BINARY_DIR}")
  gtest_discover_tests(${name} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR} DISCOVERY_TIMEOUT 60
                       PROPERTIES TIMEOUT 300)
endfunction()
