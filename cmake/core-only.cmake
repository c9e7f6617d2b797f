# NAGARE_CORE_ONLY (CMakeLists.txt): the tests of the lower layers without the packages the
# upper layers need. Used by the AArch64 cross build of scripts/test-arm, where only Debian's
# cross compiler and qemu-user are installed, so nothing is looked up for the target:
#  - GoogleTest is built from the sources Debian's libgtest-dev ships in /usr/src/googletest;
#  - nlohmann-json is header-only and architecture-independent: its directory alone is put on
#    the include path (not all of /usr/include, which holds the build machine's C headers).

set(NAGARE_GTEST_SOURCE_DIR /usr/src/googletest CACHE PATH "GoogleTest sources (Debian: libgtest-dev)")
set(NAGARE_JSON_INCLUDE_DIR /usr/include CACHE PATH "The directory holding nlohmann/json.hpp (Debian: nlohmann-json3-dev)")
if(NOT EXISTS ${NAGARE_GTEST_SOURCE_DIR}/CMakeLists.txt)
  message(FATAL_ERROR "GoogleTest sources not found in ${NAGARE_GTEST_SOURCE_DIR} (apt-get install libgtest-dev)")
endif()
if(NOT EXISTS ${NAGARE_JSON_INCLUDE_DIR}/nlohmann/json.hpp)
  message(FATAL_ERROR "nlohmann/json.hpp not found in ${NAGARE_JSON_INCLUDE_DIR} (apt-get install nlohmann-json3-dev)")
endif()

set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
add_subdirectory(${NAGARE_GTEST_SOURCE_DIR} ${CMAKE_BINARY_DIR}/googletest EXCLUDE_FROM_ALL)  # defines GTest::gtest{,_main}

set(json_dir ${CMAKE_BINARY_DIR}/json-include)
file(MAKE_DIRECTORY ${json_dir})
file(CREATE_LINK ${NAGARE_JSON_INCLUDE_DIR}/nlohmann ${json_dir}/nlohmann SYMBOLIC)
add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
set_target_properties(nlohmann_json::nlohmann_json PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${json_dir})

# The layers' test binaries as tests/CMakeLists.txt makes them (one per layer).
include(CTest)
foreach(layer gguf kernels model)
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/${layer}/*.cc)
  add_executable(test_${layer} ${srcs})
  target_link_libraries(test_${layer} PRIVATE nagare_${layer} GTest::gtest GTest::gtest_main nlohmann_json::nlohmann_json)
  target_compile_definitions(test_${layer} PRIVATE NAGARE_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  add_test(NAME test_${layer} COMMAND test_${layer})  # through CMAKE_CROSSCOMPILING_EMULATOR
endforeach()
target_link_libraries(test_kernels PRIVATE nagare_gguf)
# The model goldens of the other weight types requantize tiny models (tests/CMakeLists.txt).
target_link_libraries(test_model PRIVATE nagare_quantize)
target_compile_definitions(test_model PRIVATE NAGARE_HAS_QUANTIZE=1)
