//===- CudaDriverTest.cpp - A missing CUDA driver is reported cleanly -----===//
//
// Part of physc's runtime tests. libcuda is opened at run time; where it is
// missing, every entry point says so in an Error instead of failing to
// load or crashing. (The driver is opened once per process, so this test
// owns the process's view of it: PHYSC_LIBCUDA names a file that does not
// exist.)
//
//===----------------------------------------------------------------------===//

#include "physrt/CudaDriver.h"
#include "physrt/Error.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

using namespace physrt;

TEST(CudaDriver, ReportsAMissingDriverCleanly) {
  ::setenv("PHYSC_LIBCUDA", "/nonexistent/physc-test/libcuda.so.1", 1);
  std::string why;
  EXPECT_FALSE(cuda::available(&why));
  EXPECT_NE(why.find("no CUDA driver: cannot load "
                     "/nonexistent/physc-test/libcuda.so.1"),
            std::string::npos)
      << why;
  EXPECT_THROW(cuda::driver(), Error);
  try {
    cuda::devices();
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(std::string(e.what()), why);
  }
}
