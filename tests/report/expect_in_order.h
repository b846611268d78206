// A gtest check for rendered text: the parts appear, each after the one before it.
#pragma once

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace kfreeze::testing {

inline void ExpectInOrder(const std::string& text, const std::vector<std::string>& parts) {
  size_t at = 0;
  for (const std::string& part : parts) {
    const size_t found = text.find(part, at);
    ASSERT_NE(found, std::string::npos) << "missing, or out of order: \"" << part << "\" in:\n"
                                        << text;
    at = found + part.size();
  }
}

}  // namespace kfreeze::testing
