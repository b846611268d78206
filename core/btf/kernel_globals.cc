// Kernel globals table lookups and type resolution.
#include "core/btf/kernel_globals.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/base/status.h"

namespace kfreeze {

const KernelGlobal* FindKernelGlobal(absl::string_view symbol) {
  for (const KernelGlobal& g : kKernelGlobals) {
    if (g.symbol == symbol) return &g;
  }
  return nullptr;
}

absl::StatusOr<GlobalType> ResolveGlobalType(const OffsetResolver& resolver,
                                             const KernelGlobal& global) {
  GlobalType out;
  absl::string_view spec = absl::StripAsciiWhitespace(global.type);
  if (absl::ConsumeSuffix(&spec, "[]")) out.is_array = true;
  spec = absl::StripTrailingAsciiWhitespace(spec);
  while (absl::ConsumeSuffix(&spec, "*")) {
    ++out.pointer_depth;
    spec = absl::StripTrailingAsciiWhitespace(spec);
  }
  absl::StatusOr<uint32_t> id = resolver.FindType(spec);
  if (!id.ok()) {
    return absl::NotFoundError(
        absl::StrCat("global '", global.symbol, "': ", id.status().message()));
  }
  out.base_type_id = *id;
  KF_ASSIGN_OR_RETURN(out.base_size, resolver.SizeOf(spec));
  return out;
}

}  // namespace kfreeze
