// The dashboard's static files (server/http/dashboard/), compiled into kfreezed at build time:
// nothing is fetched at run time, from a CDN or anywhere else.
#pragma once

#include <string_view>
#include <vector>

namespace kfreeze::server::http {

struct EmbeddedAsset {
  std::string_view path;          // "/" (index.html) or "/assets/<file>"
  std::string_view content_type;  // from the file's extension
  std::string_view body;
};

const std::vector<EmbeddedAsset>& DashboardAssets();

}  // namespace kfreeze::server::http
