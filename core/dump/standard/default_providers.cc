// The single list of what a standard dump contains, in run order. Each walker family exposes a
// PhaseProvider from its own library; add it here (and its library to CMakeLists.txt) when it
// lands.
#include "core/dump/standard/standard_attachment.h"

namespace kfreeze::dump {

PhaseProviders DefaultProviders() {
  PhaseProviders providers;
  return providers;
}

}  // namespace kfreeze::dump
