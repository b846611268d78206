// kfreeze: the operator CLI. `kfreeze [--server ADDR ...] <command> [args] [--flags]`.
//
// Each command declares its own flags on its own CLI11 subcommand; the daemon connection flags
// belong to `kfreeze` itself and are accepted before or after the command. CLI11 reports parse
// errors (and --help) by throwing: Parse() catches every one of them and turns it into the CLI's
// exit statuses, so nothing is thrown past this file.
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "clients/kfreeze/cli_options.h"
#include "clients/kfreeze/command.h"

namespace kfreeze::cli {
namespace {

std::vector<Command>& Registry() {
  static auto* registry = new std::vector<Command>();
  return *registry;
}

void AddDaemonFlags(CLI::App& app, DaemonFlags& flags) {
  AddValueFlag(app, "--server", flags.server, "kfreezed address: unix:/path or host:port")
      ->capture_default_str();
  AddValueFlag(app, "--tls-ca", flags.tls_ca, "CA bundle of the daemon's TLS certificate (TCP)");
  AddValueFlag(app, "--tls-cert", flags.tls_cert, "client certificate for TLS (TCP)");
  AddValueFlag(app, "--tls-key", flags.tls_key, "client key for TLS (TCP)");
  AddValueFlag(app, "--rpc-timeout-ms", flags.rpc_timeout_ms, "deadline of one RPC (0 = none)")
      ->capture_default_str();
}

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

// What the parse left unclaimed, as the error a person can act on.
std::string UnexpectedArgument(const std::string& command, const std::string& arg) {
  const std::string where = command.empty() ? "" : absl::StrCat(command, ": ");
  if (arg.size() > 1 && arg[0] == '-') return absl::StrCat(where, "unknown flag '", arg, "'");
  return absl::StrCat(where, "unexpected argument '", arg, "'");
}

struct Parsed {
  int exit_status = kExitOk;
  RunFn run;  // set when a command is to run
};

Parsed Parse(int argc, char** argv, DaemonFlags& daemon) {
  Parsed out;
  try {
    CLI::App app("kfreeze: freeze a KVM guest and dump its Linux kernel state", "kfreeze");
    // Unclaimed arguments are collected, not rejected, so the error below can name them.
    app.allow_extras();
    AddDaemonFlags(app, daemon);
    std::vector<std::pair<CLI::App*, RunFn>> commands;
    for (const Command& c : Registry()) {
      CLI::App* sub = app.add_subcommand(std::string(c.name), std::string(c.description));
      sub->fallthrough();  // the daemon flags may follow the command
      commands.emplace_back(sub, c.setup(*sub, daemon));
    }
    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
      std::fputs(app.help().c_str(), stdout);
      return out;
    } catch (const CLI::CallForAllHelp&) {
      std::fputs(app.help("", CLI::AppFormatMode::All).c_str(), stdout);
      return out;
    } catch (const CLI::ParseError& e) {
      std::string command;
      for (const auto& [sub, run] : commands) {
        if (sub->parsed()) command = absl::StrCat(sub->get_name(), ": ");
      }
      out.exit_status = Fail(kExitInvalidInput, absl::StrCat(command, FirstLine(e.what())));
      return out;
    }
    for (auto& [sub, run] : commands) {
      if (!sub->parsed()) continue;
      if (const std::vector<std::string> unclaimed = app.remaining(); !unclaimed.empty()) {
        out.exit_status =
            Fail(kExitInvalidInput, UnexpectedArgument(sub->get_name(), unclaimed[0]));
        return out;
      }
      out.run = std::move(run);
      return out;
    }
    const std::vector<std::string> unclaimed = app.remaining();
    if (unclaimed.empty()) {
      out.exit_status = Fail(kExitInvalidInput, "missing command; try --help");
    } else if (const std::string& first = unclaimed[0]; first[0] == '-') {
      out.exit_status = Fail(kExitInvalidInput, UnexpectedArgument("", first));
    } else {
      out.exit_status =
          Fail(kExitInvalidInput, absl::StrCat("unknown command '", first, "'; try --help"));
    }
  } catch (const std::exception& e) {
    out.exit_status = Fail(kExitFailure, absl::StrCat("command line: ", e.what()));
  }
  return out;
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
  kfreeze::cli::DaemonFlags daemon;
  kfreeze::cli::Parsed parsed = kfreeze::cli::Parse(argc, argv, daemon);
  if (!parsed.run) return parsed.exit_status;
  return parsed.run();
}
