// Encodes kallsyms tables the way scripts/kallsyms.c does: names compressed through a 256-entry
// token table, addresses in any of the kernel's encodings. Layout-agnostic: the caller places
// the blobs and passes the KVA of kallsyms_offsets for the place-relative encoding.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/types.h"
#include "core/kernel/kallsyms.h"

namespace kfreeze::testing {

struct KallsymsInput {
  std::string name;
  char type = 'T';
  uint64_t address = 0;
};

// Compressed names and token tables; depend only on names (not addresses), so their sizes are
// known before anything is placed.
struct KallsymsNameTables {
  std::vector<uint8_t> names;        // kallsyms_names
  std::vector<uint8_t> token_table;  // kallsyms_token_table
  std::vector<uint8_t> token_index;  // kallsyms_token_index (256 x u16)
};

KallsymsNameTables EncodeKallsymsNames(const std::vector<KallsymsInput>& symbols);

struct KallsymsAddressTables {
  std::vector<uint8_t> values;  // kallsyms_offsets (u32 each) or kallsyms_addresses (u64 each)
  uint64_t relative_base = 0;   // base-relative encodings only
};

// Bytes of the address table for `count` symbols in `encoding`.
uint64_t KallsymsAddressTableBytes(KallsymsEncoding encoding, size_t count);

// Fails the process (test bug) if an address does not fit the encoding.
KallsymsAddressTables EncodeKallsymsAddresses(const std::vector<KallsymsInput>& symbols,
                                              KallsymsEncoding encoding, Kva offsets_kva);

}  // namespace kfreeze::testing
