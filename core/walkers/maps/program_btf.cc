#include "core/walkers/maps/program_btf.h"

#include "absl/strings/str_cat.h"
#include "core/base/caps.h"
#include "core/base/status.h"
#include "core/walkers/maps/map_info.h"

namespace kfreeze::walkers::maps {

absl::StatusOr<const struct btf*> ProgramBtfCache::Get(Reader& reader, Kva btf_object,
                                                       const BtfObjectOffsets& off) {
  absl::StatusOr<uint64_t> data = ReadField(reader, btf_object, off.data);
  if (!data.ok()) return data.status();
  absl::StatusOr<uint64_t> size = ReadField(reader, btf_object, off.data_size);
  if (!size.ok()) return size.status();
  uint64_t base = 0;
  if (off.base_btf) {
    absl::StatusOr<uint64_t> b = ReadField(reader, btf_object, *off.base_btf);
    if (!b.ok()) return b.status();
    base = *b;
  }
  if (*size == 0 || *size > caps::kMaxProgramBtfBytes) {
    return BadData(
        absl::StrCat("program BTF of ", *size, " bytes (cap ", caps::kMaxProgramBtfBytes, ")"));
  }
  absl::StatusOr<std::vector<uint8_t>> blob = reader.ReadBytes(Kva(*data), *size);
  if (!blob.ok()) return blob.status();

  Entry& entry = entries_[btf_object.value];
  if (entry.blob == *blob && (entry.btf != nullptr || !entry.status.ok())) {
    ++hits_;
    if (!entry.status.ok()) return entry.status;
    return entry.btf.get();
  }
  ++parses_;
  entry.blob = std::move(*blob);
  entry.btf.reset();
  // Program BTF loaded through BPF_BTF_LOAD is standalone; only a non-null base_btf (module-style
  // split BTF) is layered on vmlinux.
  absl::StatusOr<BtfPtr> parsed =
      base == 0
          ? ParseBtf(entry.blob)
          : (vmlinux_ != nullptr ? ParseSplitBtf(entry.blob, vmlinux_)
                                 : absl::StatusOr<BtfPtr>(absl::FailedPreconditionError(
                                       "split program BTF but no vmlinux BTF to layer it on")));
  if (!parsed.ok()) {
    entry.status = parsed.status();
    return entry.status;
  }
  entry.status = absl::OkStatus();
  entry.btf = std::move(*parsed);
  return entry.btf.get();
}

}  // namespace kfreeze::walkers::maps
