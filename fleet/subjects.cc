#include "fleet/subjects.h"

#include <unistd.h>

#include <climits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kfreeze::fleet {
namespace {

bool Plain(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // lower case is not what EscapeToken writes: one spelling per name
}

}  // namespace

std::string EscapeToken(absl::string_view name) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (Plain(c)) {
      out.push_back(c);
    } else {
      const auto b = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 15]);
    }
  }
  return out;
}

std::optional<std::string> UnescapeToken(absl::string_view token) {
  if (token.empty()) return std::nullopt;
  std::string out;
  out.reserve(token.size());
  for (size_t i = 0; i < token.size(); ++i) {
    const char c = token[i];
    if (Plain(c)) {
      out.push_back(c);
      continue;
    }
    if (c != '%' || i + 2 >= token.size()) return std::nullopt;
    const int hi = HexValue(token[i + 1]);
    const int lo = HexValue(token[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    const char decoded = static_cast<char>(hi * 16 + lo);
    if (Plain(decoded)) return std::nullopt;  // EscapeToken never escapes a plain byte
    out.push_back(decoded);
    i += 2;
  }
  return out;
}

std::string DumpSubject(absl::string_view host, absl::string_view target) {
  return absl::StrCat(kDumpSubjectPrefix, ".", EscapeToken(host), ".", EscapeToken(target));
}

std::string DumpFilterSubject(absl::string_view host, absl::string_view target) {
  return absl::StrCat(kDumpSubjectPrefix, ".", host.empty() ? "*" : EscapeToken(host), ".",
                      target.empty() ? "*" : EscapeToken(target));
}

std::string FreezeSubject(absl::string_view host, absl::string_view target) {
  return absl::StrCat(kFreezeSubjectPrefix, ".", EscapeToken(host), ".", EscapeToken(target));
}

std::string FreezeWildcard(absl::string_view host) {
  return absl::StrCat(kFreezeSubjectPrefix, ".", EscapeToken(host), ".*");
}

std::string TargetsSubject(absl::string_view host) {
  return absl::StrCat(kTargetsSubject, ".", EscapeToken(host));
}

std::optional<HostTarget> ParseHostTargetSubject(absl::string_view prefix,
                                                 absl::string_view subject) {
  if (!absl::ConsumePrefix(&subject, prefix) || !absl::ConsumePrefix(&subject, ".")) {
    return std::nullopt;
  }
  std::vector<absl::string_view> tokens = absl::StrSplit(subject, '.');
  if (tokens.size() != 2) return std::nullopt;
  std::optional<std::string> host = UnescapeToken(tokens[0]);
  std::optional<std::string> target = UnescapeToken(tokens[1]);
  if (!host || !target) return std::nullopt;
  return HostTarget{std::move(*host), std::move(*target)};
}

std::string DumpObjectName(absl::string_view host, absl::string_view dump_id) {
  return absl::StrCat(host, "/", dump_id);
}

std::optional<HostTarget> SplitHostSlashName(absl::string_view name) {
  const size_t slash = name.find('/');
  if (slash == absl::string_view::npos || slash == 0 || slash + 1 == name.size()) {
    return std::nullopt;
  }
  return HostTarget{std::string(name.substr(0, slash)), std::string(name.substr(slash + 1))};
}

std::string DefaultHostName() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

}  // namespace kfreeze::fleet
