//===- physc.cpp - The physc driver ---------------------------------------===//
//
// Part of physc. One llvm::cl::SubCommand per verb (`physc check FILE`,
// `physc emit KIND FILE`, ...), each with its own options and one function
// that runs it; main() only parses the command line and dispatches. To add a
// verb: declare its SubCommand and options next to the others, write its
// run function, and add one line to the dispatch in main(). To add an `emit`
// kind: add an EmitKind value, its row in emitKinds, and a case in runEmit().
//
// Exit status: 0 on success, 1 on any error (diagnostics go to stderr).
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "physc/Frontend/Diagnostics.h"
#include "physc/Frontend/Frontend.h"
#include "physc/Frontend/Parser.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/thread.h"

using namespace physc;
namespace cl = llvm::cl;

int physc::usageError(llvm::StringRef subcommand, const llvm::Twine &msg) {
  std::string tool = subcommand.empty() ? "physc" : "physc " + subcommand.str();
  llvm::errs() << tool << ": error: " << msg << "\nsee '" << tool
               << " --help'\n";
  return 1;
}

namespace {

//===----------------------------------------------------------------------===//
// physc check FILE
//===----------------------------------------------------------------------===//

cl::SubCommand checkCmd("check",
                        "Parse and check a .phys file; prints nothing and "
                        "exits 0 when it is valid");
cl::opt<std::string> checkInput(cl::Positional, cl::desc("<file.phys>"),
                                cl::sub(checkCmd));

int runCheck() {
  if (checkInput.empty())
    return usageError("check", "expected a file: 'physc check FILE'");
  return loadModel(checkInput, llvm::errs()) ? 0 : 1;
}

//===----------------------------------------------------------------------===//
// physc emit KIND FILE
//===----------------------------------------------------------------------===//

cl::SubCommand emitCmd("emit", "Print an intermediate form of a .phys file "
                               "to standard output");
/// What `emit` can print: the KIND word and what it means (for messages).
/// (llvm::cl cannot parse an enum from a positional argument, so the kind is
/// a plain string matched against this table.)
enum class EmitKind { AST, Checked, Stage, CUDA, GPU };
struct EmitKindInfo {
  const char *word;
  EmitKind kind;
  const char *help;
};
const EmitKindInfo emitKinds[] = {
    {"ast", EmitKind::AST,
     "the syntax tree, with line:col of every node and what names resolve "
     "to"},
    {"checked", EmitKind::Checked,
     "what semantic analysis concluded: ranges, folded consts, nets with "
     "defaults, regions, loss weights, optimizer stages"},
    {"phys", EmitKind::Stage, "stage 1: the phys dialect from MLIRGen"},
    {"jets", EmitKind::Stage,
     "stage 2: kernels with derivatives expanded into Taylor jets"},
    {"adjoint", EmitKind::Stage,
     "stage 3: loss kernels with their reverse sweep"},
    {"kernels", EmitKind::Stage,
     "stage 4: fused point-loop functions (scf/vector/memref)"},
    {"llvm", EmitKind::Stage, "stage 5: LLVM IR of the CPU kernels"},
    {"cuda", EmitKind::CUDA,
     "the stage-3 kernels as self-contained CUDA C++ (with the kernel ABI)"},
    {"gpu", EmitKind::GPU,
     "the stage-3 kernels as a gpu.module (phys-kernels-to-gpu)"},
    {"ptx", EmitKind::GPU,
     "PTX of that gpu.module for --chip, libdevice linked (phys-to-cuda)"},
};
cl::list<std::string>
    emitArgs(cl::Positional,
             cl::desc("<kind> <file.phys>  (kinds: ast, checked, phys, jets, "
                      "adjoint, kernels, llvm, cuda, gpu, ptx)"),
             cl::sub(emitCmd));
cl::opt<std::string>
    emitPrecision("precision",
                  cl::desc("kernels, llvm, cuda, gpu, ptx: f32 (default) or "
                           "f64"),
                  cl::init("f32"), cl::sub(emitCmd));
cl::opt<std::string> emitChip("chip",
                              cl::desc("ptx: the GPU, sm_80 .. sm_90 "
                                       "(default sm_90)"),
                              cl::init("sm_90"), cl::sub(emitCmd));
cl::opt<unsigned> emitBlockSize(
    "block-size",
    cl::desc("gpu, ptx: threads per block of the loss kernels (default 128, "
             "what the runtime launches; others for benchmarks)"),
    cl::init(128), cl::sub(emitCmd));
cl::opt<bool> emitStageParams(
    "stage-params",
    cl::desc("gpu, ptx: copy the parameters into shared memory at the start "
             "of each loss kernel when they fit (default true; "
             "--stage-params=false for benchmarks)"),
    cl::init(true), cl::sub(emitCmd));
cl::opt<unsigned> emitLanesPerPoint(
    "lanes-per-point",
    cl::desc("gpu, ptx: lanes of a warp that share one point in the loss "
             "kernels (default 1: a point per thread; 2 .. 32: the point's "
             "rows spread over the lanes, in registers)"),
    cl::init(1), cl::sub(emitCmd));
cl::opt<bool> emitParseOnly(
    "parse-only",
    cl::desc("emit ast: skip the semantic checks (names stay unresolved)"),
    cl::sub(emitCmd));

int emitAST(const std::string &emitInput) {
  if (emitParseOnly) {
    std::unique_ptr<llvm::SourceMgr> srcMgr =
        openSource(emitInput, llvm::errs());
    if (!srcMgr)
      return 1;
    std::unique_ptr<ast::Module> module = parseSource(*srcMgr, llvm::errs());
    if (!module)
      return 1;
    Diagnostics diags(*srcMgr, llvm::errs());
    dumpAST(*module, diags, llvm::outs());
    return 0;
  }
  std::optional<LoadedModel> loaded = loadModel(emitInput, llvm::errs());
  if (!loaded)
    return 1;
  Diagnostics diags(*loaded->srcMgr, llvm::errs());
  dumpAST(*loaded->module, diags, llvm::outs());
  return 0;
}

int emitChecked(const std::string &emitInput) {
  std::optional<LoadedModel> loaded = loadModel(emitInput, llvm::errs());
  if (!loaded)
    return 1;
  dumpCheckedModel(loaded->model, *loaded->srcMgr, llvm::outs());
  return 0;
}

int runEmit() {
  if (emitArgs.size() != 2)
    return usageError("emit", "expected a kind and a file: 'physc emit ast "
                              "FILE'");
  const EmitKindInfo *info = nullptr;
  std::string kinds;
  for (const EmitKindInfo &k : emitKinds) {
    kinds += std::string(kinds.empty() ? "" : ", ") + k.word;
    if (emitArgs[0] == k.word)
      info = &k;
  }
  if (!info)
    return usageError("emit", "unknown kind '" + emitArgs[0] +
                                  "' (expected one of: " + kinds + ")");
  switch (info->kind) {
  case EmitKind::AST:
    return emitAST(emitArgs[1]);
  case EmitKind::Checked:
    return emitChecked(emitArgs[1]);
  case EmitKind::Stage:
    if (emitPrecision != "f32" && emitPrecision != "f64")
      return usageError("emit", "--precision must be f32 or f64");
    return emitStage(emitArgs[0], emitArgs[1], emitPrecision);
  case EmitKind::CUDA:
    if (emitPrecision != "f32" && emitPrecision != "f64")
      return usageError("emit", "--precision must be f32 or f64");
    return emitCUDA(emitArgs[1], emitPrecision);
  case EmitKind::GPU:
    if (emitPrecision != "f32" && emitPrecision != "f64")
      return usageError("emit", "--precision must be f32 or f64");
    return emitGPU(emitArgs[0], emitArgs[1], emitPrecision, emitChip,
                   emitBlockSize, emitStageParams, emitLanesPerPoint);
  }
  return 1;
}

} // namespace

/// Stack of the thread that runs a subcommand.
constexpr unsigned kDriverStackSize = 512u << 20;

static int dispatch() {
  if (checkCmd)
    return runCheck();
  if (emitCmd)
    return runEmit();
  if (trainCmd)
    return runTrain();
  if (gradcheckCmd)
    return runGradcheck();
  if (benchCmd)
    return runBench();
  if (dumpBatchCmd)
    return runDumpBatch();
  if (evalCmd)
    return runEval();
  if (buildCmd)
    return runBuild();
  if (devicesCmd)
    return runDevices();
  return usageError("", "expected a subcommand: check, emit, train, eval, "
                        "build, devices, gradcheck, bench or dump-batch");
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(
      argc, argv,
      "physc - compiler of physics-informed ML specs (.phys files)\n\n"
      "  physc check FILE       check a file (no output when it is valid)\n"
      "  physc emit ast FILE    print its syntax tree\n"
      "  physc emit checked FILE  print what semantic analysis concluded\n"
      "  physc emit STAGE FILE  print a stage: phys, jets, adjoint, kernels, "
      "llvm\n"
      "  physc train FILE       train on the CPU\n"
      "  physc gradcheck FILE   check jets and gradients against finite "
      "differences\n"
      "  physc eval FILE --checkpoint CKPT -o OUT.csv|OUT.npy  fields at "
      "points\n"
      "  physc build FILE -o DIR  compile into a static library, a C header "
      "and a CMake package\n"
      "  physc devices          the CPU and CUDA devices physc can see\n"
      "  physc bench FILE       time one training step\n"
      "  physc dump-batch FILE  write params, points and CPU loss/gradient "
      "(for the GPU harness)\n");
  // Sema, MLIRGen and the passes walk expression trees recursively (up to
  // the frontend's nesting limit); a thread with a large stack makes that
  // safe in every build, sanitized ones included, whatever the caller's
  // stack limit.
  int status = 1;
  llvm::thread worker(std::optional<unsigned>(kDriverStackSize),
                      [&] { status = dispatch(); });
  worker.join();
  return status;
}
