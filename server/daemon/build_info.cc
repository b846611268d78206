#include "server/daemon/build_info.h"

namespace kfreeze::server {

std::string KfreezeVersion() { return KFREEZE_VERSION; }
std::string KfreezeBuild() { return KFREEZE_BUILD; }

}  // namespace kfreeze::server
