// Anchors core/base/reasons.h in the kfreeze_base library.
#include "core/base/reasons.h"
