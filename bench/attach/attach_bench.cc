// Attach-path benchmarks on a 1 GiB synthetic guest with a kernel-sized symbol table (~190k
// symbols) and BTF (~5 MB): translation paths, the VMCOREINFO scan, kallsyms decode, BTF parse,
// the whole attach, and the physical floor (a plain sequential read) to compare attach against.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "core/kernel/kernel_context.h"
#include "tests/support/guest_image.h"

namespace kfreeze {
namespace {

using testing::GuestImage;
using testing::GuestImageBuilder;
using testing::GuestImageOptions;

constexpr uint64_t kRam = 1ull << 30;
constexpr size_t kSymbols = 190000;  // the lab's 7.x kernel has ~193k
constexpr int kBtfStructs = 45000;   // ~5 MB of BTF, like a Debian cloud kernel
constexpr int kVmallocPages = 64;

// Every page that the builder left as a hole gets data, as in a guest that has touched all of
// its memory: the scan and the floor then really read 1 GiB.
void FillHoles(int fd, uint64_t bytes) {
  std::vector<uint8_t> page(4096, 0x5a);
  off_t at = 0;
  while (static_cast<uint64_t>(at) < bytes) {
    off_t hole = lseek(fd, at, SEEK_HOLE);
    if (hole < 0 || static_cast<uint64_t>(hole) >= bytes) break;
    off_t data = lseek(fd, hole, SEEK_DATA);
    const uint64_t end = data < 0 ? bytes : static_cast<uint64_t>(data);
    for (uint64_t p = static_cast<uint64_t>(hole); p < end; p += 4096) {
      if (pwrite(fd, page.data(), 4096, static_cast<off_t>(p)) != 4096) std::abort();
    }
    at = static_cast<off_t>(end);
  }
}

struct Guest {
  std::unique_ptr<GuestImage> image;
  std::vector<Kva> vmalloc_pages;
  Kva direct;
};

Guest MakeGuest(bool dense, std::optional<uint64_t> note_pa) {
  GuestImageOptions o;
  o.ram_bytes = kRam;
  o.levels = 5;
  o.kaslr_offset = 0x2e000000;
  o.image_pa = 0x3000000;
  o.image_reserve = 32ull << 20;
  o.page_offset_base = 0xff11af3140000000ull;
  o.filler_symbols = kSymbols;
  o.vmcoreinfo_pa = note_pa;
  GuestImageBuilder b(o);
  std::vector<std::string> ints = {"u8", "u16", "u32", "u64", "unsigned long"};
  std::vector<std::string> refs;
  for (const std::string& t : ints) refs.push_back(testing::BtfBuilder::Ref(b.btf().TypeId(t)));
  for (int i = 0; i < kBtfStructs; ++i) {
    b.btf().AddStruct(absl::StrCat("kf_bench_struct_", i), {{"a", refs[i % 5]},
                                                            {"b", refs[(i + 1) % 5]},
                                                            {"c", refs[(i + 2) % 5]},
                                                            {"d", refs[(i + 3) % 5]},
                                                            {"e", refs[(i + 4) % 5]},
                                                            {"f", refs[i % 5]}});
  }
  Guest g;
  for (int i = 0; i < kVmallocPages; ++i)
    g.vmalloc_pages.push_back(b.Alloc(4096, testing::Placement::kVmalloc));
  g.direct = b.Alloc(4096);
  g.image = std::make_unique<GuestImage>(b.Build());
  if (dense) FillHoles(g.image->fd(), kRam);
  return g;
}

Guest& TypicalGuest() {
  static Guest* g = new Guest(MakeGuest(/*dense=*/true, std::nullopt));
  return *g;
}

std::shared_ptr<const KernelContext> Context() {
  static auto* ctx = new std::shared_ptr<const KernelContext>(
      *KernelContext::Attach(TypicalGuest().image->attach_options()));
  return *ctx;
}

void BM_TranslateDirectMap(benchmark::State& state) {
  const Translator& t = Context()->translator();
  Kva va = TypicalGuest().direct;
  for (auto _ : state) benchmark::DoNotOptimize(t.Translate(va));
}
BENCHMARK(BM_TranslateDirectMap);

void BM_TranslateKernelImage(benchmark::State& state) {
  const Translator& t = Context()->translator();
  Kva va = *Context()->symbols().Require("init_task");
  for (auto _ : state) benchmark::DoNotOptimize(t.Translate(va));
}
BENCHMARK(BM_TranslateKernelImage);

void BM_PageWalkCold(benchmark::State& state) {
  const Translator& t = Context()->translator();
  const std::vector<Kva>& pages = TypicalGuest().vmalloc_pages;
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(t.Walk(pages[i++ % pages.size()]));
}
BENCHMARK(BM_PageWalkCold);

void BM_PageWalkCached(benchmark::State& state) {
  Reader reader = Context()->NewReader();
  const std::vector<Kva>& pages = TypicalGuest().vmalloc_pages;
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(reader.Translate(pages[i++ % 16]));
  state.counters["hit_rate"] = static_cast<double>(reader.cache_hits()) /
                               static_cast<double>(reader.cache_hits() + reader.cache_misses());
}
BENCHMARK(BM_PageWalkCached);

void BM_ReadU64Vmalloc(benchmark::State& state) {
  Reader reader = Context()->NewReader();
  const Kva va = TypicalGuest().vmalloc_pages[3] + 64;
  for (auto _ : state) benchmark::DoNotOptimize(reader.ReadU64(va));
}
BENCHMARK(BM_ReadU64Vmalloc);

// Scan of the 1 GiB RAM file for the note: where a kernel puts it, in the last page (the worst
// case, every page start read), and the worst case in a sparse file (holes skipped).
void ScanBench(benchmark::State& state, const GuestImage& image) {
  for (auto _ : state) {
    auto ram = GuestRam::OpenFd(image.fd(), RamLayout::Flat(kRam));  // fresh mapping: real faults
    absl::StatusOr<VmcoreInfo> info = FindVmcoreInfo(**ram);
    if (!info.ok()) state.SkipWithError(std::string(info.status().message()).c_str());
  }
  state.counters["note_MiB"] = static_cast<double>(image.truth().vmcoreinfo_pa.value) / (1 << 20);
}
void BM_VmcoreInfoScan1GiB_Typical(benchmark::State& state) {
  ScanBench(state, *TypicalGuest().image);
}
BENCHMARK(BM_VmcoreInfoScan1GiB_Typical)->Unit(benchmark::kMillisecond);
void BM_VmcoreInfoScan1GiB_LastPage(benchmark::State& state) {
  static Guest* g = new Guest(MakeGuest(true, kRam - 4096));
  ScanBench(state, *g->image);
}
BENCHMARK(BM_VmcoreInfoScan1GiB_LastPage)->Unit(benchmark::kMillisecond);
void BM_VmcoreInfoScan1GiB_LastPageSparse(benchmark::State& state) {
  static Guest* g = new Guest(MakeGuest(false, kRam - 4096));
  ScanBench(state, *g->image);
}
BENCHMARK(BM_VmcoreInfoScan1GiB_LastPageSparse)->Unit(benchmark::kMillisecond);

void BM_KallsymsDecode(benchmark::State& state) {
  std::shared_ptr<const KernelContext> ctx = Context();
  const KallsymsLocations loc = *ctx->vmcoreinfo().Kallsyms();
  const SymbolAnchors anchors = AnchorsFromVmcoreInfo(ctx->vmcoreinfo());
  for (auto _ : state) {
    Reader reader = ctx->NewReader();
    absl::StatusOr<KallsymsResult> r = DecodeKallsyms(reader, loc, anchors);
    if (!r.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(r);
  }
  state.counters["symbols"] = static_cast<double>(ctx->symbols().size());
}
BENCHMARK(BM_KallsymsDecode)->Unit(benchmark::kMillisecond);

void BM_BtfParseFromGuest(benchmark::State& state) {
  std::shared_ptr<const KernelContext> ctx = Context();
  const Kva start = *ctx->symbols().Require("__start_BTF");
  const Kva stop = *ctx->symbols().Require("__stop_BTF");
  for (auto _ : state) {
    Reader reader = ctx->NewReader();
    absl::StatusOr<std::vector<uint8_t>> raw = reader.ReadBytes(start, stop - start);
    auto set = BtfSet::FromVmlinuxBytes(std::move(*raw), "guest");
    if (!set.ok()) state.SkipWithError("parse failed");
    OffsetResolver resolver((*set)->vmlinux());
    benchmark::DoNotOptimize(resolver);
  }
  state.counters["btf_bytes"] = static_cast<double>(stop - start);
}
BENCHMARK(BM_BtfParseFromGuest)->Unit(benchmark::kMillisecond);

// The physical floor: one fresh read-only mapping of the same 1 GiB file, read sequentially.
double SequentialRead(const GuestImage& image, uint64_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ, MAP_SHARED, image.fd(), 0);
  if (p == MAP_FAILED) std::abort();
  const uint64_t* words = static_cast<const uint64_t*>(p);
  uint64_t sum = 0;
  for (uint64_t i = 0; i < bytes / 8; i += 8) sum += words[i];  // one load per cache line
  munmap(p, bytes);
  return static_cast<double>(sum & 1);
}

void BM_SequentialReadFloor1GiB(benchmark::State& state) {
  const GuestImage& image = *TypicalGuest().image;
  for (auto _ : state) benchmark::DoNotOptimize(SequentialRead(image, kRam));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kRam));
}
BENCHMARK(BM_SequentialReadFloor1GiB)->Unit(benchmark::kMillisecond);

// The floor for the bytes attach copies out of the guest: BTF and the kallsyms tables, which
// the synthetic image lays out contiguously in [__start_BTF, _end).
void BM_SequentialReadAttachBytes(benchmark::State& state) {
  std::shared_ptr<const KernelContext> ctx = Context();
  const Kva start = *ctx->symbols().Require("__start_BTF");
  const Kva end = *ctx->symbols().Require("_end");
  const uint64_t pa = ctx->translator().Translate(start)->pa.value & ~4095ull;
  const uint64_t bytes = (ctx->translator().Translate(end)->pa.value - pa + 4095) & ~4095ull;
  const int fd = TypicalGuest().image->fd();
  for (auto _ : state) {
    void* p = mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(pa));
    if (p == MAP_FAILED) std::abort();
    const uint64_t* words = static_cast<const uint64_t*>(p);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < bytes / 8; i += 8) sum += words[i];
    munmap(p, bytes);
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_SequentialReadAttachBytes)->Unit(benchmark::kMillisecond);

void BM_Attach1GiB(benchmark::State& state) {
  const GuestImage& image = *TypicalGuest().image;
  std::map<std::string, double> step_us;
  for (auto _ : state) {
    absl::StatusOr<std::shared_ptr<const KernelContext>> ctx =
        KernelContext::Attach(image.attach_options());
    if (!ctx.ok()) {
      state.SkipWithError(std::string(ctx.status().message()).c_str());
      break;
    }
    for (const StepTiming& s : (*ctx)->attach_timings())
      step_us[s.step] += absl::ToDoubleMicroseconds(s.elapsed);
  }
  for (const auto& [step, us] : step_us)
    state.counters[step + "_us"] = us / static_cast<double>(state.iterations());
  // The floor, measured in the same process on the same file.
  absl::Time t0 = absl::Now();
  benchmark::DoNotOptimize(SequentialRead(image, kRam));
  state.counters["floor_1GiB_us"] = absl::ToDoubleMicroseconds(absl::Now() - t0);
}
BENCHMARK(BM_Attach1GiB)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kfreeze

BENCHMARK_MAIN();
