//===- Build.cpp - physc build: a spec as a library for C/C++ programs ----===//
//
// Part of physc. `physc build FILE -o DIR` compiles a spec ahead of time
// into a package a C or C++ program links, with no LLVM/MLIR at run time:
//
//   DIR/include/NAME.h          the model's names and parameter layout
//   DIR/include/physc_embed.h   the C API (runtime/embed/physc_embed.h)
//   DIR/lib/libNAME.a           kernels + model description + runtime
//   DIR/lib/cmake/NAME/NAMEConfig.cmake   find_package(NAME) -> NAME::NAME
//
// The kernels are the JIT's (same stages 1-5), compiled to an object file
// by an LLVM TargetMachine instead of the ExecutionEngine; next to them the
// object holds `physc_spec_NAME`: the model description (physrt/ModelJSON.h)
// and a table of kernel symbols and addresses, which the embedding runtime
// binds exactly as the JIT does. With `--target cpu,cuda` the spec also
// holds the PTX of the phys-to-cuda pipeline (PTX.h) for sm_80, which the
// runtime loads through the driver API on any GPU from sm_80 on, and, where
// the CUDA toolkit has ptxas, that PTX assembled into cubins (sm_80 and
// sm_90 unless --cubin says otherwise): a GPU of those chips loads machine
// code and skips the driver's JIT compilation. The package is written to a
// temporary directory and renamed into place, so a failed build leaves
// nothing.
//
//===----------------------------------------------------------------------===//

#include "CodeCache.h"
#include "Commands.h"
#include "Describe.h"
#include "PTX.h"
#include "Pipeline.h"
#include "physc_embed.h"

#include "physc/Frontend/Frontend.h"
#include "physc/Frontend/MLIRGen.h"
#include "physc/Transforms/Passes.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/Object/Archive.h"
#include "llvm/Object/ArchiveWriter.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"

#include <cctype>

using namespace physc;
namespace cl = llvm::cl;

cl::SubCommand physc::buildCmd(
    "build", "Compile a .phys file ahead of time into a static library, a C "
             "header and a CMake package");
static cl::opt<std::string> buildInput(cl::Positional, cl::desc("<file.phys>"),
                                       cl::sub(buildCmd));
static cl::opt<std::string> buildOut("o", cl::desc("Output directory"),
                                     cl::value_desc("DIR"), cl::sub(buildCmd));
static cl::opt<std::string> buildTarget(
    "target",
    cl::desc("Comma-separated targets: cpu (always included), cuda (PTX of "
             "the kernels for sm_80 and later, as `physc emit ptx` "
             "generates it)"),
    cl::init("cpu"), cl::sub(buildCmd));
static cl::opt<std::string> buildPrecision("precision",
                                           cl::desc("f32 (default) or f64"),
                                           cl::init("f32"), cl::sub(buildCmd));
static cl::opt<unsigned> buildLanesPerPoint("lanes-per-point",
                                            cl::desc(kLanesPerPointHelp),
                                            cl::init(1), cl::sub(buildCmd));
static cl::opt<std::string> buildCubin(
    "cubin",
    cl::desc("With --target cuda: chips to assemble the PTX for with the CUDA "
             "toolkit's ptxas, embedded next to it as machine code that a GPU "
             "of that chip loads without JIT-compiling the PTX. A "
             "comma-separated list of sm_80, sm_86, sm_87, sm_89, sm_90; "
             "auto (default: sm_80,sm_90 when ptxas is found, else none); "
             "or none"),
    cl::init("auto"), cl::sub(buildCmd));
static cl::opt<std::string>
    buildCPU("cpu",
             cl::desc("CPU the kernels are tuned for: native (default: this "
                      "machine's CPU and features) or an LLVM CPU name such as "
                      "x86-64, x86-64-v3, skylake-avx512"),
             cl::init("native"), cl::sub(buildCmd));

namespace {

/// A marker in every package, so `-o DIR` may replace an older package but
/// never a directory the user keeps other things in.
constexpr const char *kMarker = ".physc-build";

std::string upper(llvm::StringRef s) {
  std::string u;
  for (char c : s)
    u += std::isalnum((unsigned char)c) ? std::toupper((unsigned char)c) : '_';
  return u;
}

/// Where libphysrt.a, libphysc_embed.a and physc_embed.h are:
/// $PHYSC_RUNTIME_DIR, else ../lib/physc beside the physc executable (the
/// build tree's layout, see runtime/CMakeLists.txt).
std::string runtimeDir() {
  if (auto env = llvm::sys::Process::GetEnv("PHYSC_RUNTIME_DIR"))
    return *env;
  static int anchor;
  std::string exe = llvm::sys::fs::getMainExecutable("physc", &anchor);
  llvm::SmallString<256> dir(llvm::sys::path::parent_path(exe));
  llvm::sys::path::append(dir, "..", "lib", "physc");
  return std::string(dir);
}

bool fail(const llvm::Twine &msg) {
  llvm::errs() << "physc build: error: " << msg << "\n";
  return false;
}

/// A C string constant as a private global; returns a pointer to it.
llvm::Constant *cString(llvm::Module &M, llvm::StringRef s,
                        const llvm::Twine &name) {
  llvm::Constant *init =
      llvm::ConstantDataArray::getString(M.getContext(), s, true);
  auto *gv = new llvm::GlobalVariable(
      M, init->getType(), true, llvm::GlobalValue::PrivateLinkage, init, name);
  gv->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
  return gv;
}

/// A cubin of the spec: the chip and the ELF image ptxas wrote.
struct CubinImage {
  std::string chip;
  std::string image;
};

/// Adds `physc_spec_NAME` (struct physc_spec of physc_embed.h) to `M`;
/// `ptx` empty: no GPU code (a null `ptx` field).
bool addSpec(llvm::Module &M, const physrt::ModelDescription &D,
             const std::string &ptx, llvm::ArrayRef<CubinImage> cubins) {
  llvm::LLVMContext &ctx = M.getContext();
  auto *ptr = llvm::PointerType::get(ctx, 0);
  auto *i64 = llvm::Type::getInt64Ty(ctx);
  auto *i32 = llvm::Type::getInt32Ty(ctx);
  auto *entryTy = llvm::StructType::get(ctx, {ptr, ptr});
  std::vector<llvm::Constant *> entries;
  for (const physrt::KernelRef &k : D.kernels) {
    llvm::Function *fn = M.getFunction(k.symbol);
    if (!fn)
      return fail("kernel " + k.symbol + " is missing from the object code");
    entries.push_back(llvm::ConstantStruct::get(
        entryTy, {cString(M, k.symbol, "physc.sym"), fn}));
  }
  auto *tableTy = llvm::ArrayType::get(entryTy, entries.size());
  auto *table = new llvm::GlobalVariable(
      M, tableTy, true, llvm::GlobalValue::PrivateLinkage,
      llvm::ConstantArray::get(tableTy, entries), "physc.kernels");
  // The cubins: each image a 16-byte aligned byte array (an ELF file the
  // driver reads in place).
  auto *cubinTy = llvm::StructType::get(ctx, {ptr, ptr, i64});
  std::vector<llvm::Constant *> cubinEntries;
  for (const CubinImage &c : cubins) {
    llvm::Constant *bytes = llvm::ConstantDataArray::get(
        ctx,
        llvm::ArrayRef<uint8_t>(
            reinterpret_cast<const uint8_t *>(c.image.data()), c.image.size()));
    auto *image = new llvm::GlobalVariable(M, bytes->getType(), true,
                                           llvm::GlobalValue::PrivateLinkage,
                                           bytes, "physc.cubin." + c.chip);
    image->setAlignment(llvm::Align(16));
    cubinEntries.push_back(llvm::ConstantStruct::get(
        cubinTy, {cString(M, c.chip, "physc.chip"), image,
                  llvm::ConstantInt::get(i64, c.image.size())}));
  }
  auto *cubinTableTy = llvm::ArrayType::get(cubinTy, cubinEntries.size());
  llvm::Constant *cubinTable =
      cubinEntries.empty()
          ? static_cast<llvm::Constant *>(llvm::ConstantPointerNull::get(ptr))
          : new llvm::GlobalVariable(
                M, cubinTableTy, true, llvm::GlobalValue::PrivateLinkage,
                llvm::ConstantArray::get(cubinTableTy, cubinEntries),
                "physc.cubins");
  auto *specTy =
      llvm::StructType::get(ctx, {i32, ptr, ptr, ptr, i64, ptr, ptr, i64, ptr});
  llvm::Constant *spec = llvm::ConstantStruct::get(
      specTy, {llvm::ConstantInt::get(i32, PHYSC_EMBED_VERSION),
               cString(M, D.model.name, "physc.name"),
               cString(M, D.precision, "physc.precision"),
               cString(M, physrt::writeModelJSON(D), "physc.description"),
               llvm::ConstantInt::get(i64, entries.size()), table,
               ptx.empty() ? llvm::ConstantPointerNull::get(ptr)
                           : cString(M, ptx, "physc.ptx"),
               llvm::ConstantInt::get(i64, cubinEntries.size()), cubinTable});
  new llvm::GlobalVariable(M, specTy, true, llvm::GlobalValue::ExternalLinkage,
                           spec, "physc_spec_" + D.model.name);
  return true;
}

bool writeText(const llvm::Twine &path, llvm::StringRef text);

/// ptxas of the CUDA toolkit that holds libdevice (ROOT/bin/ptxas), else
/// the first on PATH; empty when there is none.
std::string findPtxas() {
  std::string why;
  if (std::optional<std::string> root = findCUDAToolkit(why)) {
    llvm::SmallString<256> path(*root);
    llvm::sys::path::append(path, "bin", "ptxas");
    if (llvm::sys::fs::can_execute(path))
      return std::string(path);
  }
  llvm::ErrorOr<std::string> onPath = llvm::sys::findProgramByName("ptxas");
  return onPath ? *onPath : std::string();
}

/// Assembles `ptx` for every chip of `chips` with `ptxas`, the chips' runs
/// side by side (each takes seconds for a big model, on one core). A cubin
/// already in the code cache (CodeCache.h: same PTX, chip and ptxas) is
/// read from there instead.
bool assembleCubins(const std::string &ptxas, const std::string &ptx,
                    llvm::ArrayRef<std::string> chips,
                    std::vector<CubinImage> &cubins) {
  struct Run {
    std::string chip, key;
    std::optional<std::string> image; // from the cache
    llvm::SmallString<128> out, err;
    llvm::sys::ProcessInfo process;
  };
  std::vector<Run> runs(chips.size());
  std::optional<std::string> cacheDir = codeCacheDir();
  bool anyToRun = false;
  for (size_t i = 0; i < chips.size(); ++i) {
    Run &r = runs[i];
    r.chip = chips[i];
    if (cacheDir) {
      r.key = codeCacheKey("cubin\nptxas " + fileIdentity(ptxas) + "\nchip " +
                           r.chip + "\n" + ptx);
      r.image = readCachedCode(*cacheDir, "cubin", r.key);
    }
    anyToRun |= !r.image;
  }
  llvm::SmallString<128> ptxPath;
  std::optional<llvm::FileRemover> removePtx;
  if (anyToRun) {
    if (std::error_code ec =
            llvm::sys::fs::createTemporaryFile("physc-build", "ptx", ptxPath))
      return fail("cannot create a temporary file: " + ec.message());
    removePtx.emplace(ptxPath);
    if (!writeText(std::string(ptxPath), ptx))
      return false;
  }
  std::vector<std::unique_ptr<llvm::FileRemover>> removers;
  for (Run &r : runs) {
    if (r.image)
      continue;
    for (auto [path, ext] : {std::pair{&r.out, "cubin"}, {&r.err, "log"}}) {
      if (std::error_code ec =
              llvm::sys::fs::createTemporaryFile("physc-build", ext, *path))
        return fail("cannot create a temporary file: " + ec.message());
      removers.push_back(std::make_unique<llvm::FileRemover>(*path));
    }
  }
  for (Run &r : runs) {
    if (r.image)
      continue;
    std::string arch = "-arch=" + r.chip;
    llvm::StringRef args[] = {ptxas, arch, ptxPath, "-o", r.out};
    std::optional<llvm::StringRef> redirects[] = {std::nullopt, r.err, r.err};
    std::string why;
    r.process =
        llvm::sys::ExecuteNoWait(ptxas, args, std::nullopt, redirects, 0, &why);
    if (!r.process.Pid)
      return fail("cannot run " + ptxas + ": " + why);
  }
  bool ok = true;
  for (Run &r : runs) {
    if (r.image) {
      cubins.push_back({r.chip, std::move(*r.image)});
      continue;
    }
    std::string why;
    llvm::sys::ProcessInfo done =
        llvm::sys::Wait(r.process, std::nullopt, &why);
    auto log = llvm::MemoryBuffer::getFile(r.err);
    std::string text = log ? (*log)->getBuffer().trim().str() : "";
    if (done.ReturnCode != 0) {
      ok = fail("ptxas -arch=" + r.chip + " failed" +
                (why.empty() ? "" : " (" + why + ")") +
                (text.empty() ? "" : ":\n" + text));
      continue;
    }
    auto image = llvm::MemoryBuffer::getFile(r.out, /*IsText=*/false,
                                             /*RequiresNullTerminator=*/false);
    if (!image || (*image)->getBufferSize() == 0) {
      ok = fail("ptxas -arch=" + r.chip + " wrote no cubin");
      continue;
    }
    cubins.push_back({r.chip, (*image)->getBuffer().str()});
    if (cacheDir)
      writeCachedCode(*cacheDir, "cubin", r.key, cubins.back().image);
  }
  return ok;
}

/// The kernels of `file` (stages 1-5) with the spec, as an object file;
/// with `cuda`, the PTX too, and its cubins for `cubinChips` (assembled by
/// `ptxas`).
bool compileObject(const std::string &file, const CodegenOptions &cg, bool cuda,
                   llvm::ArrayRef<std::string> cubinChips,
                   const std::string &ptxas, physrt::ModelDescription &desc,
                   llvm::SmallVectorImpl<char> &object) {
  std::optional<LoadedModel> loaded = loadModel(file, llvm::errs());
  if (!loaded)
    return false;
  mlir::DialectRegistry registry;
  registerPhyscDialects(registry);
  mlir::MLIRContext ctx(registry);
  mlir::OwningOpRef<mlir::ModuleOp> module = mlirGen(ctx, *loaded);
  if (!module || failed(lowerTo(*module, Stage::Adjoint, cg)))
    return false;
  std::optional<Description> described =
      describeModel(*module, cg, llvm::errs());
  if (!described)
    return false;
  desc = std::move(described->desc);
  // gradcheck's derivative chains are not part of the library's API.
  llvm::erase_if(desc.kernels, [](const physrt::KernelRef &k) {
    return k.role == physrt::KernelRef::Role::Jets;
  });
  std::string ptx;
  if (cuda) {
    std::optional<std::string> text = generatePTX(
        *module, cg.precision, kRuntimeChip, "physc build", llvm::errs(),
        /*blockSize=*/128, /*stageParams=*/true, cg.gpuLanesPerPoint);
    if (!text)
      return false;
    ptx = std::move(*text);
  }
  std::vector<CubinImage> cubins;
  if (cuda && !cubinChips.empty() &&
      !assembleCubins(ptxas, ptx, cubinChips, cubins))
    return false;
  if (failed(lowerTo(*module, Stage::LLVM, cg, Stage::Adjoint)))
    return false;

  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  auto builder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!builder)
    return fail("cannot target this machine: " +
                llvm::toString(builder.takeError()));
  if (buildCPU != "native") {
    builder->setCPU(buildCPU);
    builder->getFeatures() = llvm::SubtargetFeatures();
  }
  builder->setRelocationModel(llvm::Reloc::PIC_);
  builder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  auto tm = builder->createTargetMachine();
  if (!tm)
    return fail(llvm::toString(tm.takeError()));
  if (buildCPU != "native" &&
      !(*tm)->getMCSubtargetInfo()->isCPUStringValid(buildCPU))
    return fail("unknown CPU '" + buildCPU + "' for " +
                (*tm)->getTargetTriple().str());

  llvm::LLVMContext llvmCtx;
  std::unique_ptr<llvm::Module> llvmModule =
      mlir::translateModuleToLLVMIR(*module, llvmCtx, desc.model.name);
  if (!llvmModule)
    return fail("translation to LLVM IR failed");
  llvmModule->setDataLayout((*tm)->createDataLayout());
  llvmModule->setTargetTriple((*tm)->getTargetTriple().str());
  if (llvm::Error e =
          mlir::makeOptimizingTransformer(3, 0, tm->get())(llvmModule.get()))
    return fail(llvm::toString(std::move(e)));
  if (!addSpec(*llvmModule, desc, ptx, cubins))
    return false;
  llvm::raw_svector_ostream os(object);
  llvm::legacy::PassManager pm;
  if ((*tm)->addPassesToEmitFile(pm, os, nullptr,
                                 llvm::CodeGenFileType::ObjectFile))
    return fail("this target cannot emit object files");
  pm.run(*llvmModule);
  return true;
}

/// libNAME.a: the kernel object, then every member of the runtime archives.
bool writeLibrary(const std::string &path, const std::string &objectName,
                  llvm::ArrayRef<char> object, const std::string &rtDir) {
  std::vector<llvm::NewArchiveMember> members;
  members.emplace_back(llvm::MemoryBufferRef(
      llvm::StringRef(object.data(), object.size()), objectName));
  std::vector<std::unique_ptr<llvm::MemoryBuffer>> buffers;
  std::vector<std::unique_ptr<llvm::object::Archive>> archives;
  for (const char *name : {"libphysc_embed.a", "libphysrt.a"}) {
    llvm::SmallString<256> p(rtDir);
    llvm::sys::path::append(p, name);
    auto buf = llvm::MemoryBuffer::getFile(p);
    if (!buf)
      return fail("cannot read the runtime archive " + p + ": " +
                  buf.getError().message() +
                  " (set PHYSC_RUNTIME_DIR to the folder that holds it)");
    auto archive = llvm::object::Archive::create((*buf)->getMemBufferRef());
    if (!archive)
      return fail(p + ": " + llvm::toString(archive.takeError()));
    llvm::Error err = llvm::Error::success();
    for (const llvm::object::Archive::Child &child :
         (*archive)->children(err)) {
      auto member = llvm::NewArchiveMember::getOldMember(child, true);
      if (!member)
        return fail(p + ": " + llvm::toString(member.takeError()));
      members.push_back(std::move(*member));
    }
    if (err)
      return fail(p + ": " + llvm::toString(std::move(err)));
    buffers.push_back(std::move(*buf));
    archives.push_back(std::move(*archive));
  }
  if (llvm::Error e = llvm::writeArchive(
          path, members, llvm::SymtabWritingMode::NormalSymtab,
          llvm::object::Archive::K_GNU, /*Deterministic=*/true,
          /*Thin=*/false))
    return fail(path + ": " + llvm::toString(std::move(e)));
  return true;
}

/// NAME.h: the spec's declaration, names as enums, the parameter layout.
std::string header(const physrt::ModelDescription &D, const std::string &src,
                   bool ptx, llvm::ArrayRef<std::string> cubinChips) {
  const physrt::CompiledModel &M = D.model;
  std::string N = M.name, U = upper(M.name), h;
  llvm::raw_string_ostream os(h);
  os << "/* " << N << ".h - generated by `physc build` from "
     << llvm::sys::path::filename(src) << "; do not edit.\n"
     << " *\n"
     << " * Link " << N << "::" << N << " (find_package(" << N
     << ")) or lib/lib" << N << ".a, then:\n"
     << " *   physc_model *m = physc_model_create(&physc_spec_" << N
     << ", \"cpu\", seed);\n"
     << " * The API is in physc_embed.h. Kernels: " << D.precision << ", CPU"
     << (ptx ? " and CUDA (PTX, sm_80 and later" : "")
     << (ptx && !cubinChips.empty() ? "; cubin " + llvm::join(cubinChips, ", ")
                                    : std::string())
     << (ptx ? ")" : "") << ". */\n\n"
     << "#ifndef PHYSC_MODEL_" << U << "_H\n#define PHYSC_MODEL_" << U
     << "_H\n\n#include \"physc_embed.h\"\n\n"
     << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
     << "extern const physc_spec physc_spec_" << N << ";\n\n"
     << "#ifdef __cplusplus\n}\n#endif\n\n";
  os << "#define " << U << "_NUM_PARAMS " << M.numParams << "\n";
  os << "#define " << U << "_NUM_COORDS " << M.coords.size() << "\n";
  os << "#define " << U << "_NUM_TERMS " << M.terms.size() << "\n";
  os << "#define " << U << "_NUM_FIELDS " << M.fields.size() << "\n";
  size_t nc = M.coords.size();
  os << "/* Values per point of physc_model_eval_derivatives: the field, its\n"
        " * first derivatives, then the upper triangle of its Hessian:\n *  ";
  std::vector<std::string> order = {"f"};
  for (size_t i = 0; i < nc; ++i)
    order.push_back("f_" + M.coords[i].name);
  for (size_t i = 0; i < nc; ++i)
    for (size_t j = i; j < nc; ++j)
      order.push_back("f_" + M.coords[i].name + M.coords[j].name);
  for (size_t i = 0; i < order.size(); ++i)
    os << (i ? ", " : "") << order[i];
  os << " */\n#define " << U << "_NUM_DERIVATIVES " << order.size() << "\n\n";
  auto enumOf = [&](const char *what, const std::vector<std::string> &names,
                    const std::vector<std::string> &notes) {
    os << "/* " << what << " (indices of the C API) */\nenum {\n";
    for (size_t i = 0; i < names.size(); ++i)
      os << "  " << U << "_" << upper(what) << "_" << upper(names[i]) << " = "
         << i << "," << (notes[i].empty() ? "" : " /* " + notes[i] + " */")
         << "\n";
    os << "};\n\n";
  };
  std::vector<std::string> names, notes;
  for (const physrt::Coord &c : M.coords) {
    names.push_back(c.name);
    std::string note;
    llvm::raw_string_ostream(note) << (c.isTime    ? "time"
                                       : c.isInput ? "input"
                                                   : "space")
                                   << " in [" << llvm::format("%g", c.lo)
                                   << ", " << llvm::format("%g", c.hi) << "]";
    notes.push_back(note);
  }
  enumOf("coord", names, notes);
  names.clear();
  notes.clear();
  for (const physrt::Term &t : M.terms) {
    names.push_back(t.name);
    notes.push_back(t.dataColumns
                        ? "data: " + std::to_string(t.dataCount) +
                              " observations, " +
                              std::to_string(t.dataColumns) + " columns"
                        : "");
  }
  enumOf("term", names, notes);
  names.clear();
  notes.clear();
  for (const physrt::FieldOutput &f : M.fields) {
    names.push_back(f.name);
    notes.push_back("");
  }
  enumOf("field", names, notes);
  os << "/* The parameter layout: blocks of the flat vector of\n * " << U
     << "_NUM_PARAMS doubles (weights row-major, rows = fan-out). */\n"
     << "typedef struct " << N << "_param_block {\n"
     << "  const char *name;\n  long long offset, rows, cols;\n} " << N
     << "_param_block;\n"
     << "static const " << N << "_param_block " << N << "_param_blocks[] = {\n";
  for (const physrt::ParamBlock &b : M.blocks)
    os << "    {\"" << b.name << "\", " << b.offset << ", "
       << std::max<int64_t>(b.rows, 1) << ", " << b.cols << "},\n";
  os << "};\n#define " << U << "_NUM_PARAM_BLOCKS " << M.blocks.size()
     << "\n\n#endif /* PHYSC_MODEL_" << U << "_H */\n";
  return h;
}

std::string cmakeConfig(const std::string &N) {
  return "# " + N +
         "Config.cmake - generated by `physc build`; do not edit.\n"
         "# find_package(" +
         N + ") defines the imported target " + N + "::" + N +
         ": the\n"
         "# static library of the model's kernels and the physc runtime, "
         "with its header.\n"
         "include(CMakeFindDependencyMacro)\n"
         "find_dependency(Threads)\n"
         "find_dependency(PNG)\n"
         "get_filename_component(_physc_prefix \"${CMAKE_CURRENT_LIST_DIR}/"
         "../../..\" ABSOLUTE)\n"
         "if(NOT TARGET " +
         N + "::" + N +
         ")\n"
         "  add_library(" +
         N + "::" + N +
         " STATIC IMPORTED)\n"
         "  set_target_properties(" +
         N + "::" + N +
         " PROPERTIES\n"
         "    IMPORTED_LOCATION \"${_physc_prefix}/lib/lib" +
         N +
         ".a\"\n"
         "    INTERFACE_INCLUDE_DIRECTORIES \"${_physc_prefix}/include\"\n"
         "    IMPORTED_LINK_INTERFACE_LANGUAGES CXX\n"
         "    INTERFACE_LINK_LIBRARIES \"Threads::Threads;PNG::PNG;m\")\n"
         "endif()\n"
         "unset(_physc_prefix)\n";
}

bool writeText(const llvm::Twine &path, llvm::StringRef text) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path.str(), ec);
  if (!ec) {
    os << text;
    os.close();
    ec = os.error();
  }
  if (ec)
    return fail("cannot write " + path + ": " + ec.message());
  return true;
}

/// Writes the whole package into `tmp`.
bool writePackage(const std::string &tmp, const physrt::ModelDescription &D,
                  llvm::ArrayRef<char> object, const std::string &rtDir,
                  bool withPTX, llvm::ArrayRef<std::string> cubinChips) {
  const std::string &N = D.model.name;
  for (const char *sub : {"include", "lib/cmake"})
    if (std::error_code ec = llvm::sys::fs::create_directories(tmp + "/" + sub))
      return fail("cannot create " + tmp + "/" + sub + ": " + ec.message());
  if (std::error_code ec =
          llvm::sys::fs::create_directories(tmp + "/lib/cmake/" + N))
    return fail("cannot create " + tmp + "/lib/cmake/" + N + ": " +
                ec.message());
  if (std::error_code ec = llvm::sys::fs::copy_file(
          rtDir + "/physc_embed.h", tmp + "/include/physc_embed.h"))
    return fail("cannot copy " + rtDir + "/physc_embed.h: " + ec.message() +
                " (set PHYSC_RUNTIME_DIR to the folder that holds it)");
  return writeLibrary(tmp + "/lib/lib" + N + ".a", N + "_kernels.o", object,
                      rtDir) &&
         writeText(tmp + "/include/" + N + ".h",
                   header(D, buildInput, withPTX, cubinChips)) &&
         writeText(tmp + "/lib/cmake/" + N + "/" + N + "Config.cmake",
                   cmakeConfig(N)) &&
         writeText(tmp + "/" + kMarker, "physc build " + buildInput + "\n");
}

} // namespace

int physc::runBuild() {
  if (buildInput.empty())
    return usageError("build", "expected a file: 'physc build FILE -o DIR'");
  if (buildOut.empty())
    return usageError("build", "expected an output directory: -o DIR");
  bool cuda = false;
  llvm::SmallVector<llvm::StringRef> targets;
  llvm::StringRef(buildTarget).split(targets, ',');
  for (llvm::StringRef t : targets) {
    if (t == "cuda")
      cuda = true;
    else if (t != "cpu")
      return usageError("build", "--target: unknown target '" + t +
                                     "' (expected cpu, cuda)");
  }
  if (buildPrecision != "f32" && buildPrecision != "f64")
    return usageError("build", "--precision must be f32 or f64");
  if (!isValidLanesPerPoint(buildLanesPerPoint))
    return usageError("build", badLanesPerPoint(buildLanesPerPoint));
  // --cubin: the chips, and ptxas when there are any.
  std::vector<std::string> cubinChips;
  std::string ptxas;
  if (buildCubin != "auto" && buildCubin != "none") {
    if (!cuda)
      return usageError("build",
                        "--cubin " + buildCubin + " needs --target cpu,cuda");
    llvm::SmallVector<llvm::StringRef> chips;
    llvm::StringRef(buildCubin).split(chips, ',');
    for (llvm::StringRef c : chips) {
      if (!isSupportedCUDAChip(c))
        return usageError("build", "--cubin: unsupported chip '" + c +
                                       "' (expected sm_80, sm_86, sm_87, "
                                       "sm_89, sm_90, auto or none)");
      if (!llvm::is_contained(cubinChips, c))
        cubinChips.push_back(c.str());
    }
  } else if (buildCubin == "auto" && cuda) {
    cubinChips = {"sm_80", "sm_90"};
  }
  if (!cubinChips.empty()) {
    ptxas = findPtxas();
    if (ptxas.empty() && buildCubin == "auto")
      cubinChips.clear(); // PTX only, which every GPU from sm_80 on runs
    else if (ptxas.empty()) {
      fail("--cubin " + buildCubin +
           ": cannot find ptxas (in the CUDA toolkit's bin/ or on PATH); "
           "install it, or pass --cubin none for PTX only");
      return 1;
    }
  }
  std::string out = buildOut;
  while (out.size() > 1 && out.back() == '/')
    out.pop_back();
  bool exists = llvm::sys::fs::exists(out);
  if (exists) {
    bool emptyDir = false;
    std::error_code ec;
    if (llvm::sys::fs::is_directory(out)) {
      llvm::sys::fs::directory_iterator it(out, ec);
      emptyDir = !ec && it == llvm::sys::fs::directory_iterator();
    }
    if (!emptyDir && !llvm::sys::fs::exists(out + "/" + kMarker)) {
      fail("'" + out +
           "' exists and is not a package physc build wrote; "
           "refusing to replace it");
      return 1;
    }
  }
  CodegenOptions cg;
  cg.precision = buildPrecision;
  cg.derivatives = true; // physc_model_eval_derivatives
  cg.gpuLanesPerPoint = buildLanesPerPoint;
  physrt::ModelDescription desc;
  llvm::SmallVector<char, 0> object;
  if (!compileObject(buildInput, cg, cuda, cubinChips, ptxas, desc, object))
    return 1;

  std::string rtDir = runtimeDir();
  std::string tmp =
      out + ".tmp." + std::to_string(llvm::sys::Process::getProcessId());
  (void)llvm::sys::fs::remove_directories(tmp);
  if (!writePackage(tmp, desc, object, rtDir, cuda, cubinChips)) {
    (void)llvm::sys::fs::remove_directories(tmp);
    return 1;
  }
  if (exists)
    if (std::error_code ec = llvm::sys::fs::remove_directories(out)) {
      (void)llvm::sys::fs::remove_directories(tmp);
      fail("cannot replace '" + out + "': " + ec.message());
      return 1;
    }
  if (std::error_code ec = llvm::sys::fs::rename(tmp, out)) {
    (void)llvm::sys::fs::remove_directories(tmp);
    fail("cannot create '" + out + "': " + ec.message());
    return 1;
  }
  llvm::outs() << "wrote " << out << "/lib/lib" << desc.model.name
               << ".a, include/" << desc.model.name << ".h, lib/cmake/"
               << desc.model.name << "/" << desc.model.name << "Config.cmake\n";
  return 0;
}
