#include "fleet/headers.h"

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kfreeze::fleet {

natsStatus SetStatusHeaders(natsMsg* msg, const absl::Status& status) {
  const std::string code = absl::StrCat(static_cast<int>(status.code()));
  const std::string message(status.message());
  const std::string name = absl::StatusCodeToString(status.code());
  natsStatus s = natsMsgHeader_Set(msg, kServiceErrorCodeHeader, code.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, kServiceErrorHeader, message.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, kStatusHeader, name.c_str());
  return s;
}

const char* HeaderOr(natsMsg* msg, const char* key, const char* fallback) {
  const char* v = nullptr;
  if (natsMsgHeader_Get(msg, key, &v) != NATS_OK || v == nullptr) return fallback;
  return v;
}

absl::Status StatusFromHeaders(natsMsg* msg) {
  const char* code_text = nullptr;
  if (natsMsgHeader_Get(msg, kServiceErrorCodeHeader, &code_text) != NATS_OK ||
      code_text == nullptr) {
    return absl::OkStatus();
  }
  int code = 0;
  if (!absl::SimpleAtoi(code_text, &code) || code <= 0 || code > 16) {
    code = static_cast<int>(absl::StatusCode::kUnknown);
  }
  return absl::Status(static_cast<absl::StatusCode>(code), HeaderOr(msg, kServiceErrorHeader));
}

}  // namespace kfreeze::fleet
