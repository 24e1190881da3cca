#include "http/dashboard/assets.h"

namespace wfrun::dashboard {

const Asset* find_asset(std::string_view path) {
  for (size_t i = 0; i < kAssetCount; ++i)
    if (path == kAssets[i].path) return &kAssets[i];
  return nullptr;
}

const Asset& index_html() {
  // ui/build.mjs always writes it first.
  return kAssets[0];
}

}  // namespace wfrun::dashboard
