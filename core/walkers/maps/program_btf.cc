#include "core/walkers/maps/program_btf.h"

#include "absl/strings/str_cat.h"
#include "core/base/caps.h"
#include "core/base/status.h"
#include "core/walkers/maps/map_info.h"

namespace kfreeze::walkers::maps {

void ProgramBtfCache::BeginDump() {
  const uint64_t previous = dump_++;
  absl::erase_if(entries_, [&](const auto& kv) {
    if (kv.second.dump == previous) return false;
    bytes_ -= kv.second.blob.size();
    return true;
  });
}

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

  auto found = entries_.find(btf_object.value);
  if (found != entries_.end() && found->second.blob == *blob &&
      (found->second.btf != nullptr || !found->second.status.ok())) {
    Entry& entry = found->second;
    ++hits_;
    entry.dump = dump_;
    if (!entry.status.ok()) return entry.status;
    return entry.btf.get();
  }
  const uint64_t old_bytes = found == entries_.end() ? 0 : found->second.blob.size();
  const size_t new_entries = entries_.size() + (found == entries_.end() ? 1 : 0);
  if (new_entries > max_entries_ || bytes_ - old_bytes + blob->size() > max_bytes_) {
    return absl::ResourceExhaustedError(absl::StrCat("program BTF cache full (", entries_.size(),
                                                     " objects, ", bytes_, " bytes; caps ",
                                                     max_entries_, ", ", max_bytes_, ")"));
  }
  ++parses_;
  Entry& entry = entries_[btf_object.value];
  bytes_ = bytes_ - old_bytes + blob->size();
  entry.dump = dump_;
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
