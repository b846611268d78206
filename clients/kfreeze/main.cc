// kfreeze: the operator CLI. `kfreeze <command> [args] [--flags]`.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "clients/kfreeze/command.h"

namespace kfreeze::cli {
namespace {
std::vector<Command>& Registry() {
  static auto* registry = new std::vector<Command>();
  return *registry;
}
}  // namespace

bool RegisterCommand(const Command& command) {
  Registry().push_back(command);
  return true;
}

const std::vector<Command>& Commands() { return Registry(); }

int Fail(int status, absl::string_view message) {
  std::fprintf(stderr, "kfreeze: %.*s\n", static_cast<int>(message.size()), message.data());
  return status;
}

}  // namespace kfreeze::cli

int main(int argc, char** argv) {
  using namespace kfreeze::cli;
  std::string usage = "kfreeze <command> [args] [--flags]\ncommands:\n";
  for (const Command& c : Commands()) absl::StrAppend(&usage, "  ", std::string(c.usage), "\n");
  absl::SetProgramUsageMessage(usage);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() < 2) return Fail(kExitInvalidInput, "missing command; try --help");
  std::string name = positional[1];
  std::vector<std::string> args(positional.begin() + 2, positional.end());
  for (const Command& c : Commands()) {
    if (c.name == name) return c.run(args);
  }
  return Fail(kExitInvalidInput, absl::StrCat("unknown command '", name, "'; try --help"));
}
