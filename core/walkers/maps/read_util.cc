#include "core/walkers/maps/read_util.h"

#include <algorithm>
#include <span>

#include "core/mem/translator.h"

namespace kfreeze::walkers::maps {

absl::Status ReadPrefix(Reader& reader, Kva kva, uint64_t size, std::vector<uint8_t>* out) {
  out->resize(size);
  // Fast path: the Reader already splits at page boundaries; only a fault needs the slow path.
  if (reader.ReadVirt(kva, std::span<uint8_t>(*out)).ok()) return absl::OkStatus();
  uint64_t done = 0;
  while (done < size) {
    const uint64_t page_left = kPageSize - ((kva.value + done) & (kPageSize - 1));
    const uint64_t chunk = std::min(page_left, size - done);
    absl::Status st = reader.ReadVirt(kva + done, std::span<uint8_t>(out->data() + done, chunk));
    if (!st.ok()) {
      out->resize(done);
      return st;
    }
    done += chunk;
  }
  return absl::OkStatus();
}

}  // namespace kfreeze::walkers::maps
