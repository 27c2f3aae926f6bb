# -*- Python -*-
import os
import shutil
import lit.formats
from lit.llvm import llvm_config

config.name = "physc"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".phys", ".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.physc_obj_root, "test")
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "Runtime"]

config.substitutions.append(("%examples", os.path.join(config.physc_src_root, "examples")))
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))

# PHYSC_CUDA_PATH / CUDA_PATH: where physc finds libdevice (tools/physc/PTX.h).
llvm_config.with_system_environment(["HOME", "TMPDIR", "PHYSC_CUDA_PATH", "CUDA_PATH"])
llvm_config.use_default_substitutions()
tool_dirs = [os.path.join(config.physc_obj_root, "bin"), config.llvm_tools_dir]
llvm_config.add_tool_substitutions(["physc", "physc-opt", "physc-burgers-ref",
                                 "physc-allen-cahn-ref"], tool_dirs)
config.environment["PATH"] = os.pathsep.join(tool_dirs + [config.environment.get("PATH", "")])
# physc keeps generated GPU code in $HOME/.cache/physc (tools/physc/CodeCache.h):
# off in tests, so each one generates the PTX it checks and none writes
# outside its %t; Integration/code-cache.test turns it on in its own folder.
config.environment["PHYSC_CACHE"] = "0"

# GPU-only tests: `REQUIRES: cuda`. The CUDA toolkit (ptxas, nvcc) is on every
# build machine; a GPU is not.
if config.ptxas and os.path.exists(config.ptxas):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", config.ptxas))
    # The loops that take every example through `physc emit ptx`
    # (Conversion/Inputs/ptx-examples.sh) assemble each PTX with %loop_ptxas.
    # A sanitized build (build-asan) runs them to check physc under ASan and
    # UBSan, but does not assemble again: ptxas is not our code, and the
    # release run assembled the same PTX. That halves the loops' time there.
    config.substitutions.append(("%loop_ptxas", "none" if config.physc_sanitize else config.ptxas))
    # The toolkit's stub driver library: loads, but has no device.
    stub = os.path.join(os.path.dirname(config.ptxas), "..", "lib64", "stubs", "libcuda.so")
    if os.path.exists(stub):
        config.available_features.add("cuda-stub")
        config.substitutions.append(("%cuda_stub", os.path.realpath(stub)))
    # libphysc-emucuda (test/Runtime/EmuCuda.cpp), a driver that runs the
    # generated kernels on the CPU; it and programs using it need cuda.h.
    cuda_include = os.path.realpath(os.path.join(os.path.dirname(config.ptxas), "..", "include"))
    emucuda_dir = os.path.join(config.physc_obj_root, "lib")
    if os.path.exists(os.path.join(cuda_include, "cuda.h")) and \
            os.path.exists(os.path.join(emucuda_dir, "libphysc-emucuda.so")):
        config.available_features.add("emucuda")
        config.substitutions.append(("%cuda_include", cuda_include))
        config.substitutions.append(("%emucuda_dir", emucuda_dir))
# libdevice, the one part of the toolkit physc reads (to generate PTX for
# `physc build --target cpu,cuda` and `physc train --device cuda`), where
# tools/physc/PTX.cpp's findCUDAToolkit looks for it.
def has_libdevice(root):
    return bool(root) and os.path.isfile(os.path.join(root, "nvvm", "libdevice", "libdevice.10.bc"))
if os.environ.get("PHYSC_CUDA_PATH"):
    libdevice_roots = [os.environ["PHYSC_CUDA_PATH"]]
else:
    libdevice_roots = [os.environ.get("CUDA_PATH"), "/usr/local/cuda", "/usr/lib/cuda",
                       "/usr/lib/nvidia-cuda-toolkit"]
libdevice_root = next((r for r in libdevice_roots if has_libdevice(r)), None)
if libdevice_root:
    config.available_features.add("libdevice")
    config.substitutions.append(("%libdevice", os.path.join(
        libdevice_root, "nvvm", "libdevice", "libdevice.10.bc")))
# The runtime tests' driver library (test/Runtime/FakeCuda.cpp): it loads
# physc's PTX and checks its kernels' ABI at each launch, but cannot run
# them, so a launch fails with CUDA_ERROR_NOT_SUPPORTED.
config.substitutions.append(("%fake_cuda", os.path.join(
    config.physc_obj_root, "test", "Runtime", "libphysc_fake_cuda.so")))
if config.nvcc and os.path.exists(config.nvcc):
    config.available_features.add("nvcc")
    config.substitutions.append(("%nvcc", config.nvcc))
if shutil.which("nvidia-smi") and os.system("nvidia-smi -L >/dev/null 2>&1") == 0:
    config.available_features.add("cuda")
