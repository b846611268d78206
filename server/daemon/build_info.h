// What this binary is: kfreeze's version and how it was built (GetInfo, /metrics build info).
#pragma once

#include <string>

namespace kfreeze::server {

// "0.1.0".
std::string KfreezeVersion();
// "source 4b0270e1c2d3, GNU 12.2.0, Release".
std::string KfreezeBuild();

}  // namespace kfreeze::server
