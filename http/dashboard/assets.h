#pragma once
// The dashboard's files (ui/ built by ui/build.mjs), gzip-compressed inside the binary.

#include <cstddef>
#include <string_view>

namespace wfrun::dashboard {

struct Asset {
  const char* path;  // "/index.html", "/assets/app.HASH.js", ...
  const char* type;  // Content-Type
  const unsigned char* gz;
  size_t gz_size;
  size_t size;     // uncompressed
  bool immutable;  // content-hashed name: cache forever
};

extern const Asset kAssets[];
extern const size_t kAssetCount;

/// The asset at `path`, or nullptr.
const Asset* find_asset(std::string_view path);
/// The page every dashboard URL answers with.
const Asset& index_html();

}  // namespace wfrun::dashboard
