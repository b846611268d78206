// Subcommand registry of the `kfreeze` CLI: each command file registers itself at static-init time.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"

namespace kfreeze::cli {

// Exit statuses shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitInvalidInput = 2;

// args: positional arguments after the command name (flags already parsed by absl).
using CommandFn = int (*)(const std::vector<std::string>& args);

struct Command {
  std::string_view name;
  std::string_view usage;
  CommandFn run;
};

// Returns true so it can initialise a namespace-scope bool.
bool RegisterCommand(const Command& command);
const std::vector<Command>& Commands();

// Prints "kfreeze: <message>" on stderr and returns `status` (one clear line per error).
int Fail(int status, absl::string_view message);

}  // namespace kfreeze::cli
