// What the fleet reads from a NATS cluster anyone in the account may write to: escaped subject
// tokens and whole subjects, HOST/ID names, object store meta (JSON), header values we build from
// guest strings. Properties, not just "no crash": an unescaped token escapes back to itself, a
// header value is printable ASCII of bounded size, meta never claims more than it parsed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fleet/headers.h"
#include "fleet/object_store.h"
#include "fleet/subjects.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kfreeze::fleet;
  const std::string in(reinterpret_cast<const char*>(data), size);

  if (std::optional<std::string> name = UnescapeToken(in)) {
    if (EscapeToken(*name) != in) abort();
  }
  const std::string token = EscapeToken(in);
  if (!in.empty() && UnescapeToken(token) != in) abort();
  if (std::optional<HostTarget> ht = ParseHostTargetSubject(kFreezeSubjectPrefix, in)) {
    if (FreezeSubject(ht->host, ht->target) != in) abort();
  }
  if (std::optional<HostTarget> split = SplitHostSlashName(in)) {
    if (split->host.empty() || split->target.empty()) abort();
  }
  const std::string header = HeaderValue(in);
  if (header.size() > 1024) abort();
  for (char c : header) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) abort();
  }
  absl::StatusOr<ObjectInfo> meta = ParseObjectMeta(in);
  if (meta.ok() && meta->name.empty()) abort();
  return 0;
}
