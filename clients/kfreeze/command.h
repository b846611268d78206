// Subcommand registry of the `kfreeze` CLI: each command file registers itself at static-init time
// with a setup function that declares its own arguments and flags (CLI11) and returns what runs
// once they are parsed. main.cc builds the command tree from the registry and parses once.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"

namespace CLI {
class App;
}  // namespace CLI

namespace kfreeze::cli {

// Exit statuses shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitInvalidInput = 2;

inline constexpr char kDefaultServer[] = "unix:/run/kfreeze/kfreezed.sock";

// Options of `kfreeze` itself (accepted before or after the command): how to reach kfreezed.
struct DaemonFlags {
  std::string server = kDefaultServer;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  int rpc_timeout_ms = 60000;
};

// Runs the command with the values the parse stored; returns the exit status.
using RunFn = std::function<int()>;
// Declares the command's positionals and flags on `app` (its own subcommand) and returns its run
// function. `daemon` is filled by the same parse, before the run function is called.
using SetupFn = RunFn (*)(CLI::App& app, const DaemonFlags& daemon);

struct Command {
  std::string_view name;
  std::string_view description;
  SetupFn setup;
};

// Returns true so it can initialise a namespace-scope bool.
bool RegisterCommand(const Command& command);
const std::vector<Command>& Commands();

// Prints "kfreeze: <message>" on stderr and returns `status` (one clear line per error).
int Fail(int status, absl::string_view message);

}  // namespace kfreeze::cli
