// services/dashboard/assets.h — the dashboard's page, script and styles, compiled into the binary
// from services/dashboard/assets/ (cmake/embed_assets.cmake), so it works with no network.
#pragma once

#include <optional>
#include <string_view>

namespace winnow::services {

// The asset served at `path` ("/index.html", "/app.js", "/style.css") and its content type.
std::optional<std::string_view> FindAsset(std::string_view path, std::string_view* content_type);

}  // namespace winnow::services
