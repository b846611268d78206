#include "core/report/render_text.h"
