// The kallsyms tables (and the VMCOREINFO that locates them) of a synthetic guest image, mutated
// in place by byte patches (guest_patches.h), then attached: the decoder must find a consistent
// symbol table or refuse, within the input bounds. Region 0 is the VMCOREINFO page, the others the
// first page of each kallsyms table.
#include <sys/mman.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/kernel/kernel_context.h"
#include "tests/fuzz/guest_patches.h"
#include "tests/support/guest_image.h"

namespace kfreeze::fuzz {
namespace {

struct Image {
  Image() {
    testing::GuestImageOptions options;
    options.filler_symbols = 64;
    options.encoding = KallsymsEncoding::kBaseRelative;
    testing::GuestImageBuilder b(options);
    image = std::make_unique<testing::GuestImage>(b.Build());
    const auto& truth = image->truth();
    void* m = mmap(nullptr, truth.ram_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, image->fd(), 0);
    if (m == MAP_FAILED) std::abort();
    uint8_t* ram = static_cast<uint8_t*>(m);
    std::vector<std::span<uint8_t>> regions = {
        std::span<uint8_t>(ram + truth.vmcoreinfo_pa.value, 4096)};
    for (const char* sym :
         {"kallsyms_offsets", "kallsyms_names", "kallsyms_markers", "kallsyms_token_table",
          "kallsyms_token_index", "kallsyms_num_syms", "kallsyms_relative_base"}) {
      auto it = truth.symbols.find(sym);
      if (it == truth.symbols.end()) continue;
      if (std::optional<Pa> pa = image->Translate(it->second)) {
        regions.push_back(std::span<uint8_t>(ram + pa->value, 4096));
      }
    }
    patches = std::make_unique<PatchSet>(std::move(regions));
  }
  std::unique_ptr<testing::GuestImage> image;
  std::unique_ptr<PatchSet> patches;
};

}  // namespace
}  // namespace kfreeze::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kfreeze::fuzz;
  static Image* image = new Image();
  InputBounds bounds(std::chrono::seconds(5), 256ull << 20);
  image->patches->Apply(ParsePatches(data, size));
  auto kernel = kfreeze::KernelContext::Attach(image->image->attach_options());
  if (kernel.ok()) (void)(*kernel)->symbols().Find("_stext");
  bounds.Check("attach");
  image->patches->Restore();
  return 0;
}
