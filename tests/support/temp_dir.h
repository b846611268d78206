// A private directory for one test, fuzzer or benchmark, removed with everything in it when the
// TempDir goes away. Keep names short: unix socket paths inside it are limited to 107 bytes.
#pragma once

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include "tests/support/die.h"

namespace kfreeze::testing {

class TempDir {
 public:
  // Creates `<parent>/<name>-XXXXXX`.
  explicit TempDir(std::string_view name, std::string_view parent = "/tmp") {
    const std::string tmpl = std::string(parent) + "/" + std::string(name) + "-XXXXXX";
    path_ = tmpl;  // mkdtemp fills in the X's
    if (mkdtemp(path_.data()) == nullptr) {
      DieInTest("TempDir", "mkdtemp " + tmpl + ": " + std::strerror(errno));
    }
  }
  ~TempDir() {
    std::error_code ignored;  // best effort: a destructor cannot fail the test
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace kfreeze::testing
