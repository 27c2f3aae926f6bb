#===- Toolchain.cmake - ccache, lld, warnings -----------------------------===#
# ccache with a base dir so a fresh clone in another folder (as CI uses) still
# hits the cache; lld because linking against libLLVM is the slowest step.
find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
  set(CMAKE_C_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()
find_program(LLD_PROGRAM NAMES ld.lld-19 ld.lld)
if(LLD_PROGRAM)
  add_link_options(-fuse-ld=lld)
endif()

# Sanitized builds (the `asan` preset): our code is instrumented; libLLVM and
# libMLIR are not, which ASan and UBSan both allow.
set(PHYSC_SANITIZE "" CACHE STRING "Sanitizers, e.g. address;undefined")
if(PHYSC_SANITIZE)
  string(REPLACE ";" "," _physc_san "${PHYSC_SANITIZE}")
  add_compile_options(-fsanitize=${_physc_san} -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=${_physc_san})
endif()

# Fuzzing builds (the `fuzz` preset, clang only): all of our code is
# instrumented for libFuzzer's coverage and checked by ASan and UBSan;
# tools/fuzz/ links libFuzzer itself (-fsanitize=fuzzer) into its targets.
option(PHYSC_FUZZ "Build the libFuzzer targets in tools/fuzz (clang)" OFF)
if(PHYSC_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "PHYSC_FUZZ needs clang (cmake --preset fuzz)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined
                      -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
