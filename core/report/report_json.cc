#include "core/report/report_json.h"
