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
