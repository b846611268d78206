// A throwaway PKI for TLS tests (the openssl CLI): a CA, a server certificate for localhost and
// 127.0.0.1, and client certificates with the names a test grants roles to.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace kfreeze::server {

class TestPki {
 public:
  explicit TestPki(std::string dir) : dir_(std::move(dir)) {
    Run("req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        "-subj /CN=kfreeze-test-ca -keyout " +
        dir_ + "/ca.key -out " + dir_ + "/ca.pem");
    Issue("server", "localhost", "DNS:localhost,IP:127.0.0.1");
  }
  // <dir>/<name>.pem and .key signed by the CA.
  void Issue(const std::string& name, const std::string& cn, const std::string& san) {
    std::string base = dir_ + "/" + name;
    std::ofstream(base + ".ext") << "subjectAltName=" << san << "\n";
    Run("req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=" + cn +
        " -keyout " + base + ".key -out " + base + ".csr");
    Run("x509 -req -days 1 -CA " + dir_ + "/ca.pem -CAkey " + dir_ +
        "/ca.key -CAcreateserial -in " + base + ".csr -out " + base + ".pem -extfile " + base +
        ".ext");
  }
  std::string Read(const std::string& file) const {
    std::ifstream in(dir_ + "/" + file);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  const std::string& dir() const { return dir_; }
  bool ok() const { return ok_; }

 private:
  void Run(const std::string& args) {
    std::string cmd = "openssl " + args + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      ADD_FAILURE() << "failed: " << cmd;
      ok_ = false;
    }
  }
  std::string dir_;
  bool ok_ = true;
};

}  // namespace kfreeze::server
