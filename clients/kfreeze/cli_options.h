// How every command declares its flags: one value per flag with the last occurrence winning (as
// `--server` before the command and again after it always did), and the flags shared by several
// commands spelled once.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace kfreeze::cli {

// `--name VALUE` / `--name=VALUE`; a repeated flag keeps its last value.
template <typename T>
CLI::Option* AddValueFlag(CLI::App& app, const std::string& name, T& into,
                          const std::string& help) {
  return app.add_option(name, into, help)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
      ->allow_extra_args(false);
}

// `--name` (also `--name=true|false`).
inline CLI::Option* AddBoolFlag(CLI::App& app, const std::string& name, bool& into,
                                const std::string& help) {
  return app.add_flag(name, into, help)->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

inline CLI::Option* AddJsonFlag(CLI::App& app, bool& into) {
  return AddBoolFlag(app, "--json", into, "print JSON instead of text");
}

// Where a guest's kernel lives, for the commands that read guest RAM or attach a target.
struct GuestFlags {
  std::string ram;
  std::string qmp;
  std::string ram_layout;
  std::string btf;
};

inline void AddGuestFlags(CLI::App& app, GuestFlags& flags) {
  AddValueFlag(app, "--ram", flags.ram,
               "guest RAM file (the VMM's memory-backend-file, e.g. /dev/shm/...)");
  AddValueFlag(app, "--qmp", flags.qmp,
               "QMP unix socket of the VM (RAM layout via `info mtree -f`)");
  AddValueFlag(app, "--ram-layout", flags.ram_layout,
               "guest-physical layout of the RAM file: q35 | pc | flat | GPA:SIZE@OFFSET,...");
  AddValueFlag(app, "--btf", flags.btf,
               "host vmlinux BTF (raw or ELF) overriding the BTF in guest memory");
}

}  // namespace kfreeze::cli
