//===- EmuCuda.cpp - A CUDA driver that runs physc's kernels on the CPU ---===//
//
// Part of physc's tests. libphysc-emucuda.so implements the CUDA driver API
// entry points that physc's runtime and bench/gpu/harness_ptx.cpp use, with
// the types and names of the toolkit's cuda.h (both the plain and the `_v2`
// names where cuda.h maps one to the other), so a program linked against
// libcuda.so.1 runs unchanged when libcuda.so.1 resolves to this library.
// It lets CI run the whole GPU path (launch sequences, the PTX ABI, stream
// capture and graphs) without a GPU.
//
// Kernels: cuModuleLoadData(Ex) takes the PTX of `physc emit ptx` and binds
// each `.entry` to the CPU build of the same kernel, loaded from
// $PHYSC_EMU_KERNELS (kernels.so and kernels.so.sigs beside it, written by
// test/Integration/Inputs/emu-kernels.sh from the same model's
// phys-kernels-to-gpu output; or a ':'-separated list of them, of which a
// module binds to the first that has all its entries and passes the
// checks below). The PTX's parameter count of every entry
// must equal the one the signature implies (5 per memref, 1 per index;
// docs/cuda.md, "ABI in PTX"), and its `.shared` arrays the bytes of the
// kernel's workgroup buffer (which differ with the precision and the block
// size): a mismatch, an entry without a CPU kernel or
// an unset $PHYSC_EMU_KERNELS fails the load, with the reason in the JIT
// error log (or on stderr when the caller passed none).
//
// It takes the cubins of `physc build` too (ptxas's ELF, read through
// Cubin.h), as this sm_90 device's driver would: one for another SM is
// refused with CUDA_ERROR_NO_BINARY_FOR_GPU, and the entries of one for
// sm_90 are checked and bound as above, from the ELF's symbols, its
// `.nv.info` records (parameters, `.maxntid`, `.reqntid`) and its
// `.nv.shared.NAME` sections. A cubin does not say whether a kernel reads
// dynamic shared memory, so only that check is left to the launches. The
// machine code itself never runs: what runs is the CPU build, so a
// cubin's kernels compute exactly what the same model's PTX kernels do.
//
// A loss kernel that stages the parameters in dynamic shared memory
// (its PTX references the module's `.extern .shared` array, and its .sigs
// line gives the bytes it reads there) must be launched with at least that
// many bytes of dynamic shared memory, and above 48 KB per block in all
// only after cuFuncSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_
// BYTES) allowed it, up to the device's opt-in limit (227 KB, or
// $PHYSC_EMU_SMEM_OPTIN bytes), as on a GPU.
//
// cuLaunchKernel rebuilds each memref descriptor from its five parameters
// and calls `_mlir_ciface_NAME(args..., tid, bid, bdim, gdim[, workgroup]
// [, dynamic shared])`.
// Kernels with workgroup memory run each block on blockDim OS threads with
// a pthread barrier behind `emu_barrier()` (gpu.barrier) and a fresh
// workgroup buffer, filled with NaN bytes so that reading unwritten shared
// memory shows; the others run their threads one after another. Only 1-D
// grids and blocks are supported, and a block larger than the entry's
// `.maxntid` (or other than its `.reqntid`) is refused, as a GPU does.
//
// Memory is host memory, allocated full of NaN bytes, as a GPU's is not
// zeroed either: reads of memory nothing wrote show in the results
// ($PHYSC_EMU_POISON=0 zeroes it instead). Everything runs synchronously at
// call time, except on a stream that is capturing: its launches, memsets and
// async copies are recorded (parameters by value) and cuStreamEndCapture
// returns them as a graph that cuGraphLaunch replays in order. Misuse returns
// the driver's errors: synchronizing during a capture
// (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, and the capture is invalidated),
// the legacy stream while a blocking stream captures
// (CUDA_ERROR_STREAM_CAPTURE_IMPLICIT),
// launching a destroyed graph exec (CUDA_ERROR_INVALID_HANDLE), copying
// outside an allocation (CUDA_ERROR_INVALID_VALUE), and so on. Handles are
// never reused, so a stale one is always an error.
//
// $PHYSC_EMU_FAULT=NAME[:K] makes the K-th launch of kernel NAME (the
// first without K) fault as an illegal address does on a GPU: the launch
// returns success, the kernel does not run (nor the rest of a graph it is
// in), and every later call that needs the context returns
// CUDA_ERROR_ILLEGAL_ADDRESS.
//
// For tests, `long emu_cuda_count(const char *what)` returns how many
// launches a kernel had (by name), or the totals "launch", "graph_launch",
// "graph_instantiate", "stream_sync", "ctx_sync", "memset", "memcpy_htod",
// "memcpy_dtoh", and "load_ptx" and "load_cubin" (modules loaded); with
// $PHYSC_EMU_STATS set the counters are printed to stderr at exit, one
// `physc-emucuda: NAME COUNT` line each.
//
//===----------------------------------------------------------------------===//

#include "Cubin.h"

#include <cuda.h>

#include <dlfcn.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

//===----------------------------------------------------------------------===//
// Calling the CPU kernels
//===----------------------------------------------------------------------===//

/// The emulated kernels take only pointers (memref descriptors) and int64
/// values, all of the INTEGER class in the x86-64 SysV ABI, so a call with N
/// arguments can go through a function type of N uint64_t parameters.
using Invoker = void (*)(void *, const uint64_t *);

template <size_t... I>
void invokeSeq(void *fn, const uint64_t *a, std::index_sequence<I...>) {
  using Fn = void (*)(
      std::conditional_t<true, uint64_t, std::integral_constant<size_t, I>>...);
  reinterpret_cast<Fn>(fn)(a[I]...);
}
template <size_t N> void invokeN(void *fn, const uint64_t *a) {
  invokeSeq(fn, a, std::make_index_sequence<N>{});
}
template <size_t... N>
constexpr std::array<Invoker, sizeof...(N)>
makeInvokers(std::index_sequence<N...>) {
  return {&invokeN<N>...};
}
constexpr size_t kMaxArgs = 48;
constexpr std::array<Invoker, kMaxArgs + 1> kInvokers =
    makeInvokers(std::make_index_sequence<kMaxArgs + 1>{});

/// MLIR's descriptor of a rank-1 memref, as `_mlir_ciface_` functions take
/// it.
struct MemRefDesc {
  void *allocated;
  void *aligned;
  int64_t offset, size, stride;
};

/// The barrier of the block the calling OS thread runs in, null for kernels
/// without workgroup memory (they run sequentially and have no barriers).
thread_local pthread_barrier_t *tlBarrier = nullptr;

//===----------------------------------------------------------------------===//
// Driver state
//===----------------------------------------------------------------------===//

/// One kernel of kernels.so.sigs: argument kinds ('m' memref, 'i' index),
/// the workgroup buffer (elements, bytes per element; 0 when none) and the
/// bytes of dynamic shared memory it reads (0 when none).
struct Signature {
  std::string kinds;
  int64_t wgSize = 0, wgElem = 0, dynBytes = 0;
  /// PTX parameters: MLIR expands each memref into five.
  size_t ptxParams() const {
    size_t n = 0;
    for (char k : kinds)
      n += k == 'm' ? 5 : 1;
    return n;
  }
  /// Arguments of the `_mlir_ciface_` function.
  size_t cpuArgs() const {
    return kinds.size() + 4 + (wgSize > 0) + (dynBytes > 0);
  }
  /// Whether its threads run together, with barriers.
  bool cooperative() const { return wgSize > 0 || dynBytes > 0; }
};

struct Function {
  std::string name;
  uintptr_t module;
  void *fn;
  Signature sig;
  /// The PTX's `.maxntid` and `.reqntid` thread counts (0: none). A GPU
  /// refuses a launch past them; the loss kernels carry `.maxntid 128`.
  unsigned maxThreads = 0, reqThreads = 0;
  /// CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, as cuFuncSetAttribute
  /// set it (0: the default, 48 KB less the static bytes).
  size_t maxDynamic = 0;
};

/// The opt-in limit of shared memory per block (static and dynamic).
size_t sharedOptin() {
  const char *env = std::getenv("PHYSC_EMU_SMEM_OPTIN");
  return env && *env ? std::strtoull(env, nullptr, 10) : 227 * 1024;
}
/// Shared memory per block without opting in.
constexpr size_t kSharedDefault = 48 * 1024;

struct Module {
  std::vector<uintptr_t> functions;
};

/// One operation recorded while a stream captures.
struct Op {
  enum Kind { Launch, Memset, HtoD, DtoH, EventRecord } kind;
  explicit Op(Kind kind) : kind(kind) {}
  uintptr_t handle = 0; // the function (Launch) or event (EventRecord)
  unsigned grid = 0, block = 0, shared = 0; // Launch: dynamic shared bytes
  std::vector<uint64_t> params; // Launch: the PTX parameters, by value
  CUdeviceptr dptr = 0;
  void *host = nullptr;      // DtoH's destination
  const void *src = nullptr; // HtoD's source, read when the op runs
  size_t bytes = 0;
  unsigned char value = 0;
};

struct Stream {
  bool nonBlocking = false; // CU_STREAM_NON_BLOCKING: no join with legacy
  bool capturing = false, invalidated = false;
  CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
  std::thread::id owner;
  std::vector<Op> ops;
};

struct Graph {
  std::vector<Op> ops;
};

struct Event {
  bool recorded = false, timing = true;
  /// The stream whose capture recorded it last, 0 once a record has run:
  /// a captured event stands for no work yet, so waiting on it is an error.
  uintptr_t capturedBy = 0;
  std::chrono::steady_clock::time_point time;
};

/// A map from handle values to objects. Handle values come from one
/// counter shared by all kinds and are never reused, so a destroyed or
/// mistyped handle never finds an object.
template <typename T> struct Registry {
  std::map<uintptr_t, std::unique_ptr<T>> live;
  T *find(uintptr_t h) {
    auto it = live.find(h);
    return it == live.end() ? nullptr : it->second.get();
  }
};

struct State {
  std::mutex mutex;
  bool initialized = false;
  int primaryRefs = 0;
  uintptr_t nextHandle = 0x1000;
  std::map<uintptr_t, size_t> allocations; // base -> bytes
  Registry<Module> modules;
  Registry<Function> functions;
  Registry<Stream> streams;
  Registry<Graph> graphs;
  Registry<Graph> execs;
  Registry<Event> events;
  std::map<std::string, void *> kernelLibs; // path -> dlopen handle
  std::map<std::string, long> counters;
  /// The error of a kernel that faulted ($PHYSC_EMU_FAULT): every later
  /// call that needs the context returns it, as on a GPU.
  CUresult sticky = CUDA_SUCCESS;

  uintptr_t newHandle() { return nextHandle += 0x10; }

  ~State() {
    const char *stats = std::getenv("PHYSC_EMU_STATS");
    if (!stats || !*stats)
      return;
    for (auto &[name, count] : counters)
      std::fprintf(stderr, "physc-emucuda: %s %ld\n", name.c_str(), count);
  }
};

State &state() {
  static State s;
  return s;
}

/// The primary context's handle; there is one device.
const uintptr_t kPrimaryContext = 0x10;
thread_local uintptr_t tlContext = 0;

void note(const char *fmt, ...) {
  std::fprintf(stderr, "physc-emucuda: ");
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
}

/// Whether a call that needs a current context may run.
CUresult ready(State &s) {
  if (!s.initialized)
    return CUDA_ERROR_NOT_INITIALIZED;
  if (tlContext != kPrimaryContext)
    return CUDA_ERROR_INVALID_CONTEXT;
  if (s.primaryRefs <= 0)
    return CUDA_ERROR_CONTEXT_IS_DESTROYED;
  return s.sticky;
}

/// Whether this launch of `name` is the one $PHYSC_EMU_FAULT (`NAME` or
/// `NAME:K`, the K-th launch, from 1) makes fault. Counts the launches of
/// that name.
bool faultsNow(const std::string &name) {
  static const std::pair<std::string, long> fault = [] {
    const char *env = std::getenv("PHYSC_EMU_FAULT");
    std::string spec = env ? env : "";
    size_t colon = spec.rfind(':');
    if (colon == std::string::npos)
      return std::make_pair(spec, 1L);
    char *end = nullptr;
    long k = std::strtol(spec.c_str() + colon + 1, &end, 10);
    if (k < 1 || *end) { // a fault that never comes would pass silently
      note("PHYSC_EMU_FAULT=%s: K must be a launch number from 1",
           spec.c_str());
      std::_Exit(2);
    }
    return std::make_pair(spec.substr(0, colon), k);
  }();
  static long seen = 0;
  return !fault.first.empty() && name == fault.first && ++seen == fault.second;
}

bool isLegacy(CUstream h) { return h == nullptr || h == CU_STREAM_LEGACY; }

/// What a call does that an active stream capture may forbid (the CUDA
/// programming guide, "Prohibited and Unhandled Operations").
enum Conflict : unsigned {
  /// Work on the legacy default stream, which joins every blocking stream:
  /// forbidden while one of those captures, in any mode.
  kLegacy = 1,
  /// A potentially unsafe call (allocating, freeing, synchronous copies and
  /// memsets, synchronizing the legacy stream): forbidden by global-mode
  /// captures of any thread and thread-local ones of the calling thread.
  kUnsafe = 2,
  /// Synchronizing the whole context: forbidden during any capture.
  kContext = 4,
};

/// Fails a call that conflicts with an active capture, and invalidates that
/// capture as the driver does (its cuStreamEndCapture fails).
CUresult checkCaptures(State &s, unsigned what) {
  CUresult r = CUDA_SUCCESS;
  for (auto &[h, st] : s.streams.live) {
    if (!st->capturing)
      continue;
    bool sees = st->mode == CU_STREAM_CAPTURE_MODE_GLOBAL ||
                (st->mode == CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
                 st->owner == std::this_thread::get_id());
    CUresult e = CUDA_SUCCESS;
    if (what & kContext)
      e = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    else if ((what & kLegacy) && !st->nonBlocking)
      e = CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
    else if ((what & kUnsafe) && sees)
      e = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    if (e) {
      st->invalidated = true;
      r = e;
    }
  }
  return r;
}

/// Resolves a stream argument: null for the legacy and per-thread default
/// streams, which run immediately.
CUresult lookupStream(State &s, CUstream h, Stream *&out) {
  out = nullptr;
  if (isLegacy(h))
    return checkCaptures(s, kLegacy);
  if (h == CU_STREAM_PER_THREAD)
    return CUDA_SUCCESS;
  out = s.streams.find(reinterpret_cast<uintptr_t>(h));
  return out ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

/// Whether [p, p + bytes) lies inside one allocation.
bool inAllocation(State &s, CUdeviceptr p, size_t bytes) {
  auto it = s.allocations.upper_bound(p);
  if (it == s.allocations.begin())
    return false;
  --it;
  return p >= it->first && p + bytes <= it->first + it->second &&
         p + bytes >= p;
}

//===----------------------------------------------------------------------===//
// Modules
//===----------------------------------------------------------------------===//

struct PtxEntry {
  std::string name;
  size_t params;
  unsigned maxThreads = 0, reqThreads = 0;
  /// Bytes of the `.shared` arrays declared in its body: the workgroup
  /// buffer, whose size depends on the precision and the block size.
  size_t sharedBytes = 0;
  /// Whether its body names a module-level `.extern .shared` array.
  bool dynamicShared = false;
  /// False for a cubin's entry: the ELF does not record dynamicShared.
  bool knowsDynamic = true;
};

/// The names of the module-level `.extern .shared ... NAME[];` arrays.
std::vector<std::string> externSharedNames(const std::string &text) {
  std::vector<std::string> names;
  for (size_t p = 0; (p = text.find(".extern .shared", p)) != std::string::npos;
       p += 15) {
    size_t end = text.find("[]", p);
    if (end == std::string::npos)
      break;
    size_t b = end;
    while (b > p && (std::isalnum((unsigned char)text[b - 1]) ||
                     text[b - 1] == '_' || text[b - 1] == '$'))
      --b;
    names.push_back(text.substr(b, end - b));
  }
  return names;
}

/// Sums the byte counts of the `.shared` declarations in [from, to) of
/// `text`: arrays `.shared ... .b8 NAME[BYTES];` and scalars `.shared ...
/// .f64 NAME;` (what LLVM prints for a one-element workgroup buffer). A
/// declaration starts with `.shared`, while the instructions that use it
/// read `ld.shared` or `st.shared`.
size_t sharedDeclBytes(const std::string &text, size_t from, size_t to) {
  static const std::pair<const char *, size_t> scalars[] = {
      {".f64 ", 8}, {".b64 ", 8}, {".u64 ", 8},
      {".f32 ", 4}, {".b32 ", 4}, {".u32 ", 4}};
  size_t bytes = 0;
  for (size_t p = from; (p = text.find(".shared", p)) < to; p += 7) {
    if (p > 0 && !std::isspace((unsigned char)text[p - 1]))
      continue;
    size_t end = text.find(';', p);
    if (end == std::string::npos || end > to)
      break;
    std::string decl = text.substr(p, end - p);
    size_t open = decl.rfind('[');
    if (decl.find(".b8") != std::string::npos && open != std::string::npos) {
      bytes += std::strtoull(decl.c_str() + open + 1, nullptr, 10);
      continue;
    }
    for (auto [type, size] : scalars)
      if (open == std::string::npos && decl.find(type) != std::string::npos)
        bytes += size;
  }
  return bytes;
}

/// The product of the thread counts after a `.maxntid` or `.reqntid`
/// directive in `text` (between an entry's parameters and its body), or 0.
unsigned threadsDirective(const std::string &text, const char *directive) {
  size_t at = text.find(directive);
  if (at == std::string::npos)
    return 0;
  unsigned product = 1;
  const char *p = text.c_str() + at + std::strlen(directive);
  for (int dim = 0; dim < 3; ++dim) {
    char *end;
    unsigned long v = std::strtoul(p, &end, 10);
    if (end == p)
      break;
    product *= (unsigned)v;
    p = end;
    while (*p == ' ' || *p == ',')
      ++p;
  }
  return product;
}

/// The `.entry NAME(...)` declarations of a PTX module and their `.param`
/// counts; false if the image is not PTX text.
bool parsePtx(const char *image, std::vector<PtxEntry> &entries,
              std::string &err) {
  // A cubin or fatbin starts with binary headers; PTX is text with a NUL.
  std::string text(image);
  if (text.find(".version") == std::string::npos ||
      text.find(".entry") == std::string::npos) {
    err = "the image is not PTX text with a .version and an .entry";
    return false;
  }
  for (size_t pos = 0; (pos = text.find(".entry", pos)) != std::string::npos;
       pos += 6) {
    size_t b = pos + 6;
    while (b < text.size() && std::isspace((unsigned char)text[b]))
      ++b;
    size_t e = b;
    while (e < text.size() &&
           (std::isalnum((unsigned char)text[e]) || text[e] == '_' ||
            text[e] == '$' || text[e] == '.'))
      ++e;
    size_t open = text.find_first_not_of(" \t\r\n", e);
    if (e == b || open == std::string::npos || text[open] != '(') {
      err = "malformed .entry at offset " + std::to_string(pos);
      return false;
    }
    size_t close = text.find(')', open);
    if (close == std::string::npos) {
      err = "unterminated parameter list of .entry " + text.substr(b, e - b);
      return false;
    }
    PtxEntry entry{text.substr(b, e - b), 0};
    for (size_t p = open; (p = text.find(".param", p)) < close; p += 6)
      ++entry.params;
    size_t body = text.find('{', close);
    std::string directives = text.substr(close, body - close);
    entry.maxThreads = threadsDirective(directives, ".maxntid");
    entry.reqThreads = threadsDirective(directives, ".reqntid");
    size_t next = text.find(".entry", close);
    size_t from = body == std::string::npos ? close : body;
    size_t to = next == std::string::npos ? text.size() : next;
    entry.sharedBytes = sharedDeclBytes(text, from, to);
    for (const std::string &name : externSharedNames(text))
      if (text.substr(from, to - from).find(name) != std::string::npos)
        entry.dynamicShared = true;
    entries.push_back(entry);
  }
  return true;
}

/// The entries of a cubin, as parsePtx reads them from PTX.
CUresult parseCubin(const void *image, std::vector<PtxEntry> &entries,
                    std::string &err) {
  // The driver runs a cubin on a device of the same major version and the
  // same or a later minor one: here, sm_90 only.
  if (int sm = physc_test::cubinSM(image); sm != 90) {
    err = "a cubin for sm_" + std::to_string(sm) + ": this device is sm_90";
    return CUDA_ERROR_NO_BINARY_FOR_GPU;
  }
  std::map<std::string, physc_test::CubinKernel> kernels;
  if (!physc_test::cubinEntries(image, kernels)) {
    err = "a CUDA ELF without readable sections or entry kernels";
    return CUDA_ERROR_INVALID_IMAGE;
  }
  for (auto &[name, k] : kernels) {
    if (k.params < 0) {
      err = "cubin entry " + name + " has no .nv.info." + name;
      return CUDA_ERROR_INVALID_IMAGE;
    }
    PtxEntry entry{name, (size_t)k.params};
    entry.maxThreads = k.maxThreads;
    entry.reqThreads = k.reqThreads;
    entry.sharedBytes = k.sharedBytes;
    entry.knowsDynamic = false;
    entries.push_back(entry);
  }
  return CUDA_SUCCESS;
}

/// Reads kernels.so.sigs: `NAME ARGKINDS WGSIZE WGELEM DYNBYTES` per line.
bool readSignatures(const std::string &path,
                    std::map<std::string, Signature> &sigs, std::string &err) {
  std::ifstream in(path);
  if (!in) {
    err = "cannot read " + path;
    return false;
  }
  std::string line;
  for (int lineNo = 1; std::getline(in, line); ++lineNo) {
    if (line.empty())
      continue;
    std::istringstream ls(line);
    std::string name;
    Signature sig;
    if (!(ls >> name >> sig.kinds >> sig.wgSize >> sig.wgElem >>
          sig.dynBytes) ||
        sig.wgSize < 0 || sig.dynBytes < 0 ||
        (sig.wgSize > 0 && sig.wgElem != 4 && sig.wgElem != 8)) {
      err = path + ":" + std::to_string(lineNo) + ": malformed line '" + line +
            "'";
      return false;
    }
    if (sig.kinds == "-")
      sig.kinds.clear();
    if (sig.kinds.find_first_not_of("mi") != std::string::npos) {
      err = path + ":" + std::to_string(lineNo) + ": bad argument kinds '" +
            sig.kinds + "'";
      return false;
    }
    sigs[name] = sig;
  }
  return true;
}

/// Binds every entry of a module to its CPU kernel in the kernels.so at
/// `path` (and its .sigs), after the ABI checks.
CUresult bindEntries(State &s, const std::string &path,
                     const std::vector<PtxEntry> &entries, bool cubin,
                     std::vector<std::unique_ptr<Function>> &fns,
                     std::string &err) {
  const char *what = cubin ? "cubin" : "PTX";
  void *&lib = s.kernelLibs[path];
  if (!lib)
    lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    s.kernelLibs.erase(path);
    const char *why = dlerror();
    err = "cannot load " + path + ": " + (why ? why : "?");
    return CUDA_ERROR_NOT_FOUND;
  }
  std::map<std::string, Signature> sigs;
  if (!readSignatures(path + ".sigs", sigs, err))
    return CUDA_ERROR_NOT_FOUND;

  for (const PtxEntry &entry : entries) {
    auto sig = sigs.find(entry.name);
    if (sig == sigs.end()) {
      err = std::string(what) + " entry " + entry.name +
            " has no emulated kernel in " + path + ".sigs (the " + what +
            " of another model?)";
      return CUDA_ERROR_NOT_FOUND;
    }
    if (sig->second.ptxParams() != entry.params) {
      err = "ABI mismatch: " + std::string(what) + " entry " + entry.name +
            " has " + std::to_string(entry.params) +
            " parameters, the kernel's " + "signature '" + sig->second.kinds +
            "' expands to " + std::to_string(sig->second.ptxParams()) +
            " (5 per memref, 1 per index)";
      return CUDA_ERROR_INVALID_IMAGE;
    }
    size_t wgBytes = sig->second.wgSize * sig->second.wgElem;
    // ptxas rounds a kernel's shared memory up to 16 bytes.
    if (cubin)
      wgBytes = (wgBytes + 15) / 16 * 16;
    if (entry.sharedBytes != wgBytes) {
      err = "ABI mismatch: " + std::string(what) + " entry " + entry.name +
            " declares " + std::to_string(entry.sharedBytes) +
            " bytes of shared memory, the emulated kernel's workgroup " +
            "buffer has " + std::to_string(wgBytes) +
            " (kernels of another precision or block size?)";
      return CUDA_ERROR_INVALID_IMAGE;
    }
    if (entry.knowsDynamic &&
        entry.dynamicShared != (sig->second.dynBytes > 0)) {
      err = "ABI mismatch: PTX entry " + entry.name +
            (entry.dynamicShared ? " reads" : " does not read") +
            " dynamic shared memory, the emulated kernel " +
            (entry.dynamicShared ? "does not" : "does") +
            " (kernels built with another stage-params?)";
      return CUDA_ERROR_INVALID_IMAGE;
    }
    if (sig->second.cpuArgs() > kMaxArgs) {
      err = "kernel " + entry.name + " takes " +
            std::to_string(sig->second.cpuArgs()) + " arguments, more than " +
            std::to_string(kMaxArgs);
      return CUDA_ERROR_NOT_SUPPORTED;
    }
    void *fn = dlsym(lib, ("_mlir_ciface_" + entry.name).c_str());
    if (!fn) {
      err = path + " has no _mlir_ciface_" + entry.name;
      return CUDA_ERROR_NOT_FOUND;
    }
    // gpu-emulate.py also emits the buffer size as code: both must agree.
    if (auto *size = reinterpret_cast<int64_t (*)()>(dlsym(
            lib, ("_mlir_ciface_" + entry.name + "_shared_size").c_str()));
        size && size() != sig->second.wgSize) {
      err = "kernel " + entry.name + ": workgroup size " +
            std::to_string(size()) + " in " + path + ", " +
            std::to_string(sig->second.wgSize) + " in its .sigs";
      return CUDA_ERROR_INVALID_IMAGE;
    }
    fns.push_back(std::make_unique<Function>(
        Function{entry.name, 0, fn, sig->second, entry.maxThreads,
                 entry.reqThreads, 0}));
  }
  return CUDA_SUCCESS;
}

/// Binds every entry of a PTX image or cubin to its CPU kernels: those of
/// the first kernels.so in $PHYSC_EMU_KERNELS (a ':'-separated list, so
/// that one process can load several models, or one model's kernels for
/// several block sizes) that has all of them and passes the ABI checks.
CUresult loadModule(State &s, CUmodule *out, const void *image,
                    std::string &err) {
  if (!out || !image) {
    err = "null module or image";
    return CUDA_ERROR_INVALID_VALUE;
  }
  std::vector<PtxEntry> entries;
  const bool cubin = physc_test::isCudaElf(image);
  if (cubin) {
    if (CUresult r = parseCubin(image, entries, err))
      return r;
  } else if (!parsePtx(static_cast<const char *>(image), entries, err)) {
    return CUDA_ERROR_INVALID_IMAGE;
  }
  std::vector<std::string> paths;
  if (const char *list = std::getenv("PHYSC_EMU_KERNELS")) {
    std::stringstream ss(list);
    for (std::string p; std::getline(ss, p, ':');)
      if (!p.empty())
        paths.push_back(p);
  }
  if (paths.empty()) {
    err = "PHYSC_EMU_KERNELS is not set: it names the kernels.so that "
          "emu-kernels.sh built from the same model";
    return CUDA_ERROR_NOT_FOUND;
  }
  std::vector<std::unique_ptr<Function>> fns;
  CUresult r = CUDA_ERROR_NOT_FOUND;
  std::string why;
  for (const std::string &path : paths) {
    fns.clear();
    std::string e;
    r = bindEntries(s, path, entries, cubin, fns, e);
    if (r == CUDA_SUCCESS)
      break;
    why += (why.empty() ? "" : "; ") + e;
  }
  if (r != CUDA_SUCCESS) {
    err = paths.size() > 1 ? "no kernels.so of PHYSC_EMU_KERNELS fits: " + why
                           : why;
    return r;
  }
  uintptr_t mh = s.newHandle();
  auto mod = std::make_unique<Module>();
  for (auto &fn : fns) {
    uintptr_t fh = s.newHandle();
    fn->module = mh;
    mod->functions.push_back(fh);
    s.functions.live[fh] = std::move(fn);
  }
  s.modules.live[mh] = std::move(mod);
  *out = reinterpret_cast<CUmodule>(mh);
  ++s.counters[cubin ? "load_cubin" : "load_ptx"];
  return CUDA_SUCCESS;
}

//===----------------------------------------------------------------------===//
// Launches and the operations a graph replays
//===----------------------------------------------------------------------===//

CUresult checkDims(unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                   unsigned by, unsigned bz) {
  if (!gx || !gy || !gz || !bx || !by || !bz || bx > 1024)
    return CUDA_ERROR_INVALID_VALUE;
  if (gy != 1 || gz != 1 || by != 1 || bz != 1)
    return CUDA_ERROR_NOT_SUPPORTED; // the kernels use only the x ids
  return CUDA_SUCCESS;
}

/// Runs a kernel over the grid from its PTX parameters (8 bytes each), with
/// `dynamic` bytes of dynamic shared memory per block.
CUresult runKernel(State &s, const Function &f, unsigned grid, unsigned block,
                   const std::vector<uint64_t> &params, size_t dynamic) {
  const Signature &sig = f.sig;
  // A fault is asynchronous on a GPU: the launch succeeds, and the next
  // call that waits for the device reports it (ready()).
  if (faultsNow(f.name)) {
    note("%s faults (PHYSC_EMU_FAULT)", f.name.c_str());
    s.sticky = CUDA_ERROR_ILLEGAL_ADDRESS;
    return CUDA_SUCCESS;
  }
  const size_t staticBytes = (size_t)sig.wgSize * sig.wgElem;
  const size_t allowed = f.maxDynamic ? f.maxDynamic
                         : staticBytes < kSharedDefault
                             ? kSharedDefault - staticBytes
                             : 0;
  if (dynamic > allowed) {
    note("launch of %s with %zu bytes of dynamic shared memory: %zu allowed "
         "(%zu static; cuFuncSetAttribute raises the limit up to %zu in all)",
         f.name.c_str(), dynamic, allowed, staticBytes, sharedOptin());
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (dynamic < (size_t)sig.dynBytes) {
    // The kernel would read past the block's shared memory.
    note("launch of %s with %zu bytes of dynamic shared memory: it reads "
         "%lld",
         f.name.c_str(), dynamic, (long long)sig.dynBytes);
    return CUDA_ERROR_ILLEGAL_ADDRESS;
  }
  std::vector<MemRefDesc> descs;
  descs.reserve(sig.kinds.size());
  std::vector<uint64_t> args;
  size_t p = 0;
  for (char k : sig.kinds) {
    if (k == 'i') {
      args.push_back(params[p++]);
      continue;
    }
    MemRefDesc d{reinterpret_cast<void *>(params[p]),
                 reinterpret_cast<void *>(params[p + 1]),
                 (int64_t)params[p + 2], (int64_t)params[p + 3],
                 (int64_t)params[p + 4]};
    p += 5;
    // A pointer outside device memory faults on a GPU; here it would
    // corrupt the host, so it is caught before the kernel runs.
    CUdeviceptr aligned = reinterpret_cast<CUdeviceptr>(d.aligned);
    if (aligned && !inAllocation(s, aligned, 1)) {
      note("launch of %s: memref argument %zu (%p) is not device memory",
           f.name.c_str(), descs.size(), d.aligned);
      return CUDA_ERROR_ILLEGAL_ADDRESS;
    }
    descs.push_back(d);
    args.push_back(reinterpret_cast<uint64_t>(&descs.back()));
  }
  const size_t ids = args.size();
  args.insert(args.end(), {0, 0, block, grid});
  Invoker call = kInvokers[sig.cpuArgs()];

  if (!sig.cooperative()) {
    for (unsigned b = 0; b < grid; ++b)
      for (unsigned t = 0; t < block; ++t) {
        args[ids] = t;
        args[ids + 1] = b;
        call(f.fn, args.data());
      }
  } else {
    const size_t bytes = staticBytes;
    std::vector<unsigned char> shared(bytes), dyn(dynamic);
    MemRefDesc wg{shared.data(), shared.data(), 0, sig.wgSize, 1};
    MemRefDesc dw{dyn.data(), dyn.data(), 0, (int64_t)dynamic, 1};
    if (sig.wgSize > 0)
      args.push_back(reinterpret_cast<uint64_t>(&wg));
    if (sig.dynBytes > 0)
      args.push_back(reinterpret_cast<uint64_t>(&dw));
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, nullptr, block);
    std::vector<std::thread> threads;
    threads.reserve(block);
    for (unsigned b = 0; b < grid; ++b) {
      // Shared memory starts undefined on a GPU: NaN bytes make a read
      // before the first write show in the results.
      std::memset(shared.data(), 0xff, bytes);
      std::memset(dyn.data(), 0xff, dynamic);
      for (unsigned t = 0; t < block; ++t)
        threads.emplace_back([&, t, b, args]() mutable {
          tlBarrier = &barrier;
          args[ids] = t;
          args[ids + 1] = b;
          call(f.fn, args.data());
          tlBarrier = nullptr;
        });
      for (std::thread &th : threads)
        th.join();
      threads.clear();
    }
    pthread_barrier_destroy(&barrier);
  }
  ++s.counters[f.name];
  ++s.counters["launch"];
  return CUDA_SUCCESS;
}

CUresult runMemset(State &s, CUdeviceptr p, unsigned char v, size_t n) {
  if (n && !inAllocation(s, p, n))
    return CUDA_ERROR_INVALID_VALUE;
  if (n)
    std::memset(reinterpret_cast<void *>(p), v, n);
  ++s.counters["memset"];
  return CUDA_SUCCESS;
}

CUresult runHtoD(State &s, CUdeviceptr dst, const void *src, size_t n) {
  if (n && (!src || !inAllocation(s, dst, n)))
    return CUDA_ERROR_INVALID_VALUE;
  if (n)
    std::memcpy(reinterpret_cast<void *>(dst), src, n);
  ++s.counters["memcpy_htod"];
  return CUDA_SUCCESS;
}

CUresult runDtoH(State &s, void *dst, CUdeviceptr src, size_t n) {
  if (n && (!dst || !inAllocation(s, src, n)))
    return CUDA_ERROR_INVALID_VALUE;
  if (n)
    std::memcpy(dst, reinterpret_cast<const void *>(src), n);
  ++s.counters["memcpy_dtoh"];
  return CUDA_SUCCESS;
}

CUresult runOp(State &s, const Op &op) {
  switch (op.kind) {
  case Op::Launch: {
    Function *f = s.functions.find(op.handle);
    if (!f) // its module was unloaded after the capture
      return CUDA_ERROR_INVALID_HANDLE;
    return runKernel(s, *f, op.grid, op.block, op.params, op.shared);
  }
  case Op::Memset:
    return runMemset(s, op.dptr, op.value, op.bytes);
  case Op::HtoD:
    return runHtoD(s, op.dptr, op.src, op.bytes);
  case Op::DtoH:
    return runDtoH(s, op.host, op.dptr, op.bytes);
  case Op::EventRecord: {
    Event *e = s.events.find(op.handle);
    if (!e)
      return CUDA_ERROR_INVALID_HANDLE;
    e->recorded = true;
    e->capturedBy = 0;
    e->time = std::chrono::steady_clock::now();
    return CUDA_SUCCESS;
  }
  }
  return CUDA_ERROR_UNKNOWN;
}

/// Runs an operation now, or records it when its stream is capturing.
CUresult issue(State &s, CUstream h, Op op) {
  Stream *st;
  if (CUresult r = lookupStream(s, h, st))
    return r;
  if (st && st->capturing) {
    if (op.kind == Op::EventRecord)
      s.events.find(op.handle)->capturedBy = reinterpret_cast<uintptr_t>(h);
    st->ops.push_back(std::move(op));
    return CUDA_SUCCESS;
  }
  return runOp(s, op);
}

/// Fails on an event recorded by a capture still in progress, and
/// invalidates that capture.
CUresult checkCapturedEvent(State &s, Event &e) {
  Stream *st = s.streams.find(e.capturedBy);
  if (!st || !st->capturing)
    return CUDA_SUCCESS;
  st->invalidated = true;
  return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

const std::map<CUresult, std::pair<const char *, const char *>> &errors() {
  static const std::map<CUresult, std::pair<const char *, const char *>> m = {
// clang-format off
#define E(code, text) {code, {#code, text}}
      // clang-format on
      E(CUDA_SUCCESS, "no error"),
      E(CUDA_ERROR_INVALID_VALUE, "invalid argument"),
      E(CUDA_ERROR_OUT_OF_MEMORY, "out of memory"),
      E(CUDA_ERROR_NOT_INITIALIZED, "initialization error"),
      E(CUDA_ERROR_DEINITIALIZED, "driver shutting down"),
      E(CUDA_ERROR_NO_DEVICE, "no CUDA-capable device is detected"),
      E(CUDA_ERROR_INVALID_DEVICE, "invalid device ordinal"),
      E(CUDA_ERROR_INVALID_IMAGE, "device kernel image is invalid"),
      E(CUDA_ERROR_INVALID_CONTEXT, "invalid device context"),
      E(CUDA_ERROR_NO_BINARY_FOR_GPU,
        "no kernel image is available for execution on the device"),
      E(CUDA_ERROR_INVALID_PTX, "a PTX JIT compilation failed"),
      E(CUDA_ERROR_INVALID_HANDLE, "invalid resource handle"),
      E(CUDA_ERROR_ILLEGAL_STATE, "the operation is not permitted in the "
                                  "current state"),
      E(CUDA_ERROR_NOT_FOUND, "named symbol not found"),
      E(CUDA_ERROR_NOT_READY, "device not ready"),
      E(CUDA_ERROR_ILLEGAL_ADDRESS, "an illegal memory access was "
                                    "encountered"),
      E(CUDA_ERROR_LAUNCH_FAILED, "unspecified launch failure"),
      E(CUDA_ERROR_CONTEXT_IS_DESTROYED, "context is destroyed"),
      E(CUDA_ERROR_NOT_SUPPORTED, "operation not supported"),
      E(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
        "operation not permitted when stream is capturing"),
      E(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED,
        "operation failed due to a previous error during capture"),
      E(CUDA_ERROR_STREAM_CAPTURE_IMPLICIT,
        "operation would make the legacy stream depend on a capturing "
        "blocking stream"),
      E(CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD,
        "attempt to terminate a thread-local capture sequence from another "
        "thread"),
      E(CUDA_ERROR_UNKNOWN, "unknown error"),
#undef E
  };
  return m;
}

} // namespace

//===----------------------------------------------------------------------===//
// The driver API
//===----------------------------------------------------------------------===//

#define LOCK                                                                   \
  State &s = state();                                                          \
  std::lock_guard<std::mutex> lock(s.mutex)
#define READY                                                                  \
  LOCK;                                                                        \
  if (CUresult r = ready(s))                                                   \
  return r

extern "C" {

void emu_barrier() {
  if (!tlBarrier) {
    note("gpu.barrier in a kernel without workgroup memory: its threads run "
         "one after another, so the barrier cannot be honoured");
    std::abort();
  }
  pthread_barrier_wait(tlBarrier);
}

long emu_cuda_count(const char *what) {
  LOCK;
  auto it = s.counters.find(what ? what : "");
  return it == s.counters.end() ? 0 : it->second;
}

CUresult cuInit(unsigned int flags) {
  LOCK;
  if (flags != 0)
    return CUDA_ERROR_INVALID_VALUE;
  s.initialized = true;
  return CUDA_SUCCESS;
}

CUresult cuDriverGetVersion(int *version) {
  if (!version)
    return CUDA_ERROR_INVALID_VALUE;
  *version = CUDA_VERSION;
  return CUDA_SUCCESS;
}

CUresult cuGetErrorName(CUresult error, const char **str) {
  if (!str)
    return CUDA_ERROR_INVALID_VALUE;
  auto it = errors().find(error);
  *str = it == errors().end() ? nullptr : it->second.first;
  return *str ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuGetErrorString(CUresult error, const char **str) {
  if (!str)
    return CUDA_ERROR_INVALID_VALUE;
  auto it = errors().find(error);
  *str = it == errors().end() ? nullptr : it->second.second;
  return *str ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuDeviceGetCount(int *count) {
  LOCK;
  if (!s.initialized)
    return CUDA_ERROR_NOT_INITIALIZED;
  if (!count)
    return CUDA_ERROR_INVALID_VALUE;
  *count = 1;
  return CUDA_SUCCESS;
}

CUresult cuDeviceGet(CUdevice *dev, int ordinal) {
  LOCK;
  if (!s.initialized)
    return CUDA_ERROR_NOT_INITIALIZED;
  if (!dev)
    return CUDA_ERROR_INVALID_VALUE;
  if (ordinal != 0)
    return CUDA_ERROR_INVALID_DEVICE;
  *dev = 0;
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char *name, int len, CUdevice dev) {
  LOCK;
  if (!s.initialized)
    return CUDA_ERROR_NOT_INITIALIZED;
  if (dev != 0)
    return CUDA_ERROR_INVALID_DEVICE;
  if (!name || len <= 0)
    return CUDA_ERROR_INVALID_VALUE;
  std::snprintf(name, len, "%s", "physc EmuCuda");
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetAttribute(int *value, CUdevice_attribute attr,
                              CUdevice dev) {
  LOCK;
  if (!s.initialized)
    return CUDA_ERROR_NOT_INITIALIZED;
  if (dev != 0)
    return CUDA_ERROR_INVALID_DEVICE;
  if (!value || attr <= 0 || attr >= CU_DEVICE_ATTRIBUTE_MAX)
    return CUDA_ERROR_INVALID_VALUE;
  // An sm_90 part with two SMs: small grids keep emulated runs short.
  switch (attr) {
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
    *value = 9;
    break;
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
    *value = 0;
    break;
  case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT:
    *value = 2;
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
  case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X:
  case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y:
    *value = 1024;
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z:
    *value = 64;
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X:
    *value = 2147483647;
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y:
  case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z:
    *value = 65535;
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK:
    *value = 48 * 1024;
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
    *value = (int)sharedOptin();
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR:
    *value = 228 * 1024;
    break;
  case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY:
    *value = 64 * 1024;
    break;
  case CU_DEVICE_ATTRIBUTE_WARP_SIZE:
    *value = 32;
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK:
  case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR:
    *value = 65536;
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR:
    *value = 2048;
    break;
  case CU_DEVICE_ATTRIBUTE_CLOCK_RATE:
    *value = 1980000; // kHz
    break;
  case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH:
    *value = 5120;
    break;
  case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING:
  case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS:
  case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY:
    *value = 1;
    break;
  default:
    *value = 0; // features the emulator does not have
  }
  return CUDA_SUCCESS;
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev) {
  LOCK;
  if (!s.initialized)
    return CUDA_ERROR_NOT_INITIALIZED;
  if (dev != 0)
    return CUDA_ERROR_INVALID_DEVICE;
  if (!bytes)
    return CUDA_ERROR_INVALID_VALUE;
  // Device memory is host memory.
  *bytes = (size_t)sysconf(_SC_PHYS_PAGES) * (size_t)sysconf(_SC_PAGESIZE);
  return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice dev) {
  LOCK;
  if (!s.initialized)
    return CUDA_ERROR_NOT_INITIALIZED;
  if (dev != 0)
    return CUDA_ERROR_INVALID_DEVICE;
  if (!ctx)
    return CUDA_ERROR_INVALID_VALUE;
  ++s.primaryRefs;
  *ctx = reinterpret_cast<CUcontext>(kPrimaryContext);
  return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
  LOCK;
  if (!s.initialized)
    return CUDA_ERROR_NOT_INITIALIZED;
  if (dev != 0)
    return CUDA_ERROR_INVALID_DEVICE;
  if (s.primaryRefs <= 0)
    return CUDA_ERROR_INVALID_CONTEXT;
  --s.primaryRefs;
  return CUDA_SUCCESS;
}

CUresult cuCtxSetCurrent(CUcontext ctx) {
  LOCK;
  if (!s.initialized)
    return CUDA_ERROR_NOT_INITIALIZED;
  uintptr_t h = reinterpret_cast<uintptr_t>(ctx);
  if (h != 0 && (h != kPrimaryContext || s.primaryRefs <= 0))
    return CUDA_ERROR_INVALID_CONTEXT;
  tlContext = h;
  return CUDA_SUCCESS;
}

CUresult cuCtxSynchronize() {
  READY;
  if (CUresult r = checkCaptures(s, kContext))
    return r;
  ++s.counters["ctx_sync"];
  return CUDA_SUCCESS;
}

CUresult cuModuleLoadDataEx(CUmodule *module, const void *image,
                            unsigned int numOptions, CUjit_option *options,
                            void **optionValues) {
  READY;
  char *log = nullptr;
  size_t logSize = 0;
  void **logSizeSlot = nullptr;
  for (unsigned i = 0; i < numOptions && options && optionValues; ++i) {
    if (options[i] == CU_JIT_ERROR_LOG_BUFFER)
      log = static_cast<char *>(optionValues[i]);
    else if (options[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES) {
      logSize = reinterpret_cast<uintptr_t>(optionValues[i]);
      logSizeSlot = &optionValues[i];
    }
  }
  std::string err;
  CUresult r = loadModule(s, module, image, err);
  if (r == CUDA_SUCCESS)
    return r;
  // The reason goes where a JIT error would; with no log, to stderr.
  if (log && logSize) {
    std::snprintf(log, logSize, "physc-emucuda: %s", err.c_str());
    *logSizeSlot = reinterpret_cast<void *>(
        (uintptr_t)std::min(logSize, std::strlen(log) + 1));
  } else {
    note("%s", err.c_str());
  }
  return r;
}

CUresult cuModuleLoadData(CUmodule *module, const void *image) {
  return cuModuleLoadDataEx(module, image, 0, nullptr, nullptr);
}

CUresult cuModuleUnload(CUmodule module) {
  READY;
  auto it = s.modules.live.find(reinterpret_cast<uintptr_t>(module));
  if (it == s.modules.live.end())
    return CUDA_ERROR_INVALID_HANDLE;
  for (uintptr_t f : it->second->functions)
    s.functions.live.erase(f);
  s.modules.live.erase(it);
  return CUDA_SUCCESS;
}

CUresult cuModuleGetFunction(CUfunction *fn, CUmodule module,
                             const char *name) {
  READY;
  if (!fn || !name)
    return CUDA_ERROR_INVALID_VALUE;
  Module *m = s.modules.find(reinterpret_cast<uintptr_t>(module));
  if (!m)
    return CUDA_ERROR_INVALID_HANDLE;
  for (uintptr_t h : m->functions)
    if (s.functions.find(h)->name == name) {
      *fn = reinterpret_cast<CUfunction>(h);
      return CUDA_SUCCESS;
    }
  return CUDA_ERROR_NOT_FOUND;
}

CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib,
                            int value) {
  READY;
  Function *f = s.functions.find(reinterpret_cast<uintptr_t>(hfunc));
  if (!f)
    return CUDA_ERROR_INVALID_HANDLE;
  switch (attrib) {
  case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: {
    // The static and dynamic bytes together must fit the opt-in limit.
    size_t staticBytes = (size_t)f->sig.wgSize * f->sig.wgElem;
    if (value < 0 || staticBytes + (size_t)value > sharedOptin())
      return CUDA_ERROR_INVALID_VALUE;
    f->maxDynamic = (size_t)value;
    return CUDA_SUCCESS;
  }
  case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
    return value >= -1 && value <= 100 ? CUDA_SUCCESS
                                       : CUDA_ERROR_INVALID_VALUE;
  default:
    return CUDA_ERROR_NOT_SUPPORTED;
  }
}

CUresult cuMemAlloc_v2(CUdeviceptr *ptr, size_t bytes) {
  READY;
  if (!ptr || bytes == 0)
    return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = checkCaptures(s, kUnsafe))
    return r;
  void *p = std::malloc(bytes);
  if (!p)
    return CUDA_ERROR_OUT_OF_MEMORY;
  // A GPU's fresh memory is not zeroed: it holds NaN bytes here, so that a
  // kernel or caller that relies on zeroes shows (PHYSC_EMU_POISON=0 zeroes
  // it instead).
  const char *poison = std::getenv("PHYSC_EMU_POISON");
  std::memset(p, poison && std::strcmp(poison, "0") == 0 ? 0 : 0xff, bytes);
  *ptr = reinterpret_cast<CUdeviceptr>(p);
  s.allocations[*ptr] = bytes;
  return CUDA_SUCCESS;
}

CUresult cuMemFree_v2(CUdeviceptr ptr) {
  READY;
  if (ptr == 0)
    return CUDA_SUCCESS;
  if (CUresult r = checkCaptures(s, kUnsafe))
    return r;
  auto it = s.allocations.find(ptr);
  if (it == s.allocations.end())
    return CUDA_ERROR_INVALID_VALUE;
  std::free(reinterpret_cast<void *>(ptr));
  s.allocations.erase(it);
  return CUDA_SUCCESS;
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t bytes) {
  READY;
  if (CUresult r = checkCaptures(s, kLegacy | kUnsafe))
    return r;
  return runHtoD(s, dst, src, bytes);
}

CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t bytes) {
  READY;
  if (CUresult r = checkCaptures(s, kLegacy | kUnsafe))
    return r;
  return runDtoH(s, dst, src, bytes);
}

CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t bytes,
                              CUstream stream) {
  READY;
  if (bytes && (!src || !inAllocation(s, dst, bytes)))
    return CUDA_ERROR_INVALID_VALUE;
  Op op{Op::HtoD};
  op.dptr = dst;
  op.src = src;
  op.bytes = bytes;
  return issue(s, stream, std::move(op));
}

CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t bytes,
                              CUstream stream) {
  READY;
  if (bytes && (!dst || !inAllocation(s, src, bytes)))
    return CUDA_ERROR_INVALID_VALUE;
  Op op{Op::DtoH};
  op.host = dst;
  op.dptr = src;
  op.bytes = bytes;
  return issue(s, stream, std::move(op));
}

CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char value, size_t count) {
  READY;
  if (CUresult r = checkCaptures(s, kLegacy | kUnsafe))
    return r;
  return runMemset(s, dst, value, count);
}

CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char value, size_t count,
                         CUstream stream) {
  READY;
  if (count && !inAllocation(s, dst, count))
    return CUDA_ERROR_INVALID_VALUE;
  Op op{Op::Memset};
  op.dptr = dst;
  op.value = value;
  op.bytes = count;
  return issue(s, stream, std::move(op));
}

CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX,
                        unsigned int gridDimY, unsigned int gridDimZ,
                        unsigned int blockDimX, unsigned int blockDimY,
                        unsigned int blockDimZ, unsigned int sharedMemBytes,
                        CUstream stream, void **kernelParams, void **extra) {
  READY;
  Function *fn = s.functions.find(reinterpret_cast<uintptr_t>(f));
  if (!fn)
    return CUDA_ERROR_INVALID_HANDLE;
  if (CUresult r = checkDims(gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY,
                             blockDimZ))
    return r;
  if ((fn->maxThreads && blockDimX > fn->maxThreads) ||
      (fn->reqThreads && blockDimX != fn->reqThreads)) {
    note("launch of %s with %u threads per block: its PTX allows %s %u",
         fn->name.c_str(), blockDimX, fn->reqThreads ? "exactly" : "at most",
         fn->reqThreads ? fn->reqThreads : fn->maxThreads);
    return CUDA_ERROR_INVALID_VALUE;
  }
  const size_t n = fn->sig.ptxParams();
  if (extra || (n && !kernelParams))
    return CUDA_ERROR_INVALID_VALUE; // only kernelParams is supported
  // Copied now: kernelParams points at the caller's temporaries, which a
  // graph replays long after they are gone.
  Op op{Op::Launch};
  op.handle = reinterpret_cast<uintptr_t>(f);
  op.grid = gridDimX;
  op.block = blockDimX;
  op.shared = sharedMemBytes;
  op.params.resize(n);
  for (size_t i = 0; i < n; ++i) {
    if (!kernelParams[i])
      return CUDA_ERROR_INVALID_VALUE;
    std::memcpy(&op.params[i], kernelParams[i], 8);
  }
  return issue(s, stream, std::move(op));
}

CUresult cuStreamCreate(CUstream *stream, unsigned int flags) {
  READY;
  if (!stream || (flags & ~CU_STREAM_NON_BLOCKING))
    return CUDA_ERROR_INVALID_VALUE;
  uintptr_t h = s.newHandle();
  s.streams.live[h] = std::make_unique<Stream>();
  s.streams.live[h]->nonBlocking = flags & CU_STREAM_NON_BLOCKING;
  *stream = reinterpret_cast<CUstream>(h);
  return CUDA_SUCCESS;
}

CUresult cuStreamDestroy_v2(CUstream stream) {
  READY;
  auto it = s.streams.live.find(reinterpret_cast<uintptr_t>(stream));
  if (it == s.streams.live.end())
    return CUDA_ERROR_INVALID_HANDLE;
  if (it->second->capturing)
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  s.streams.live.erase(it);
  return CUDA_SUCCESS;
}

CUresult cuStreamSynchronize(CUstream stream) {
  READY;
  if (isLegacy(stream))
    if (CUresult r = checkCaptures(s, kLegacy | kUnsafe))
      return r;
  Stream *st;
  if (CUresult r = lookupStream(s, stream, st))
    return r;
  if (st && st->capturing) {
    st->invalidated = true;
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  }
  ++s.counters["stream_sync"];
  return CUDA_SUCCESS;
}

CUresult cuStreamBeginCapture_v2(CUstream stream, CUstreamCaptureMode mode) {
  READY;
  if (isLegacy(stream))
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  if (stream == CU_STREAM_PER_THREAD)
    return CUDA_ERROR_NOT_SUPPORTED;
  Stream *st = s.streams.find(reinterpret_cast<uintptr_t>(stream));
  if (!st)
    return CUDA_ERROR_INVALID_HANDLE;
  if (mode != CU_STREAM_CAPTURE_MODE_GLOBAL &&
      mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
      mode != CU_STREAM_CAPTURE_MODE_RELAXED)
    return CUDA_ERROR_INVALID_VALUE;
  if (st->capturing)
    return CUDA_ERROR_ILLEGAL_STATE;
  st->capturing = true;
  st->invalidated = false;
  st->mode = mode;
  st->owner = std::this_thread::get_id();
  st->ops.clear();
  return CUDA_SUCCESS;
}

CUresult cuStreamEndCapture(CUstream stream, CUgraph *graph) {
  READY;
  if (!graph)
    return CUDA_ERROR_INVALID_VALUE;
  Stream *st = s.streams.find(reinterpret_cast<uintptr_t>(stream));
  if (!st)
    return isLegacy(stream) ? CUDA_ERROR_ILLEGAL_STATE
                            : CUDA_ERROR_INVALID_HANDLE;
  if (!st->capturing)
    return CUDA_ERROR_ILLEGAL_STATE;
  if (st->mode == CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
      st->owner != std::this_thread::get_id())
    return CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD;
  st->capturing = false;
  std::vector<Op> ops = std::move(st->ops);
  st->ops.clear();
  if (st->invalidated) {
    *graph = nullptr;
    return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  }
  uintptr_t h = s.newHandle();
  s.graphs.live[h] = std::make_unique<Graph>(Graph{std::move(ops)});
  *graph = reinterpret_cast<CUgraph>(h);
  return CUDA_SUCCESS;
}

CUresult cuStreamIsCapturing(CUstream stream, CUstreamCaptureStatus *status) {
  READY;
  if (!status)
    return CUDA_ERROR_INVALID_VALUE;
  Stream *st = nullptr;
  if (!isLegacy(stream) && stream != CU_STREAM_PER_THREAD &&
      !(st = s.streams.find(reinterpret_cast<uintptr_t>(stream))))
    return CUDA_ERROR_INVALID_HANDLE;
  *status = !st || !st->capturing ? CU_STREAM_CAPTURE_STATUS_NONE
            : st->invalidated     ? CU_STREAM_CAPTURE_STATUS_INVALIDATED
                                  : CU_STREAM_CAPTURE_STATUS_ACTIVE;
  return CUDA_SUCCESS;
}

CUresult cuGraphInstantiateWithFlags(CUgraphExec *exec, CUgraph graph,
                                     unsigned long long flags) {
  READY;
  (void)flags; // upload/auto-free/priority do not change a replay here
  if (!exec)
    return CUDA_ERROR_INVALID_VALUE;
  Graph *g = s.graphs.find(reinterpret_cast<uintptr_t>(graph));
  if (!g)
    return CUDA_ERROR_INVALID_VALUE;
  uintptr_t h = s.newHandle();
  s.execs.live[h] = std::make_unique<Graph>(*g);
  *exec = reinterpret_cast<CUgraphExec>(h);
  ++s.counters["graph_instantiate"];
  return CUDA_SUCCESS;
}

CUresult cuGraphLaunch(CUgraphExec exec, CUstream stream) {
  READY;
  Graph *g = s.execs.find(reinterpret_cast<uintptr_t>(exec));
  if (!g)
    return CUDA_ERROR_INVALID_HANDLE;
  Stream *st;
  if (CUresult r = lookupStream(s, stream, st))
    return r;
  if (st && st->capturing) { // a graph launched into a capture: its ops
    st->ops.insert(st->ops.end(), g->ops.begin(), g->ops.end());
    return CUDA_SUCCESS;
  }
  ++s.counters["graph_launch"];
  // After a fault the rest of the graph does not run; the launch itself
  // still succeeds.
  for (const Op &op : g->ops)
    if (CUresult r = runOp(s, op); r || s.sticky)
      return r;
  return CUDA_SUCCESS;
}

CUresult cuGraphExecDestroy(CUgraphExec exec) {
  READY;
  return s.execs.live.erase(reinterpret_cast<uintptr_t>(exec))
             ? CUDA_SUCCESS
             : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuGraphDestroy(CUgraph graph) {
  READY;
  return s.graphs.live.erase(reinterpret_cast<uintptr_t>(graph))
             ? CUDA_SUCCESS
             : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuEventCreate(CUevent *event, unsigned int flags) {
  READY;
  if (!event)
    return CUDA_ERROR_INVALID_VALUE;
  uintptr_t h = s.newHandle();
  auto e = std::make_unique<Event>();
  e->timing = !(flags & CU_EVENT_DISABLE_TIMING);
  s.events.live[h] = std::move(e);
  *event = reinterpret_cast<CUevent>(h);
  return CUDA_SUCCESS;
}

CUresult cuEventRecord(CUevent event, CUstream stream) {
  READY;
  if (!s.events.find(reinterpret_cast<uintptr_t>(event)))
    return CUDA_ERROR_INVALID_HANDLE;
  Op op{Op::EventRecord};
  op.handle = reinterpret_cast<uintptr_t>(event);
  return issue(s, stream, std::move(op));
}

CUresult cuEventSynchronize(CUevent event) {
  READY;
  Event *e = s.events.find(reinterpret_cast<uintptr_t>(event));
  if (!e)
    return CUDA_ERROR_INVALID_HANDLE;
  return checkCapturedEvent(s, *e); // the work before its record has run
}

CUresult cuEventElapsedTime_v2(float *ms, CUevent start, CUevent end) {
  READY;
  if (!ms)
    return CUDA_ERROR_INVALID_VALUE;
  Event *a = s.events.find(reinterpret_cast<uintptr_t>(start));
  Event *b = s.events.find(reinterpret_cast<uintptr_t>(end));
  if (!a || !b)
    return CUDA_ERROR_INVALID_HANDLE;
  if (CUresult r = checkCapturedEvent(s, *a))
    return r;
  if (CUresult r = checkCapturedEvent(s, *b))
    return r;
  if (!a->timing || !b->timing || !a->recorded || !b->recorded)
    return CUDA_ERROR_INVALID_HANDLE;
  *ms = std::chrono::duration<float, std::milli>(b->time - a->time).count();
  return CUDA_SUCCESS;
}

CUresult cuEventDestroy_v2(CUevent event) {
  READY;
  return s.events.live.erase(reinterpret_cast<uintptr_t>(event))
             ? CUDA_SUCCESS
             : CUDA_ERROR_INVALID_HANDLE;
}

//===----------------------------------------------------------------------===//
// The names cuda.h maps to others
//===----------------------------------------------------------------------===//
// A program that resolves the plain names itself (dlsym) gets the same
// functions; cuda.h's macros send compiled callers to the `_v2` ones.

#undef cuDeviceTotalMem
#undef cuDevicePrimaryCtxRelease
#undef cuMemAlloc
#undef cuMemFree
#undef cuMemcpyHtoD
#undef cuMemcpyDtoH
#undef cuMemcpyHtoDAsync
#undef cuMemcpyDtoHAsync
#undef cuMemsetD8
#undef cuStreamDestroy
#undef cuStreamBeginCapture
#undef cuGraphInstantiate
#undef cuEventElapsedTime
#undef cuEventDestroy

CUresult cuDeviceTotalMem(size_t *bytes, CUdevice dev) {
  return cuDeviceTotalMem_v2(bytes, dev);
}
CUresult cuDevicePrimaryCtxRelease(CUdevice dev) {
  return cuDevicePrimaryCtxRelease_v2(dev);
}
CUresult cuMemAlloc(CUdeviceptr *ptr, size_t bytes) {
  return cuMemAlloc_v2(ptr, bytes);
}
CUresult cuMemFree(CUdeviceptr ptr) { return cuMemFree_v2(ptr); }
CUresult cuMemcpyHtoD(CUdeviceptr dst, const void *src, size_t bytes) {
  return cuMemcpyHtoD_v2(dst, src, bytes);
}
CUresult cuMemcpyDtoH(void *dst, CUdeviceptr src, size_t bytes) {
  return cuMemcpyDtoH_v2(dst, src, bytes);
}
CUresult cuMemcpyHtoDAsync(CUdeviceptr dst, const void *src, size_t bytes,
                           CUstream stream) {
  return cuMemcpyHtoDAsync_v2(dst, src, bytes, stream);
}
CUresult cuMemcpyDtoHAsync(void *dst, CUdeviceptr src, size_t bytes,
                           CUstream stream) {
  return cuMemcpyDtoHAsync_v2(dst, src, bytes, stream);
}
CUresult cuMemsetD8(CUdeviceptr dst, unsigned char value, size_t count) {
  return cuMemsetD8_v2(dst, value, count);
}
CUresult cuStreamDestroy(CUstream stream) { return cuStreamDestroy_v2(stream); }
CUresult cuStreamBeginCapture(CUstream stream, CUstreamCaptureMode mode) {
  return cuStreamBeginCapture_v2(stream, mode);
}
CUresult cuEventElapsedTime(float *ms, CUevent start, CUevent end) {
  return cuEventElapsedTime_v2(ms, start, end);
}
CUresult cuEventDestroy(CUevent event) { return cuEventDestroy_v2(event); }

/// The driver's cuGraphInstantiate and cuGraphInstantiate_v2 symbols have
/// the pre-12.0 signature (error node and log buffer, no flags); cuda.h
/// now maps the name to cuGraphInstantiateWithFlags. Neither output is
/// written, so a caller that passes flags in their place is safe too.
CUresult cuGraphInstantiate_v2(CUgraphExec *exec, CUgraph graph,
                               CUgraphNode *errorNode, char *log,
                               size_t logSize) {
  (void)errorNode;
  (void)log;
  (void)logSize;
  return cuGraphInstantiateWithFlags(exec, graph, 0);
}
CUresult cuGraphInstantiate(CUgraphExec *exec, CUgraph graph,
                            CUgraphNode *errorNode, char *log, size_t logSize) {
  return cuGraphInstantiate_v2(exec, graph, errorNode, log, logSize);
}

} // extern "C"
