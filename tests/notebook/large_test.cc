// A notebook with ~100 MB of embedded outputs: reading it and converting it with nb2py stay fast
// and take memory in proportion to the file.

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "engine/notebook/notebook.h"

namespace wfrun::notebook {
namespace {

namespace fs = std::filesystem;

long peak_rss_kb() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

// Writes the notebook piece by piece, so the test itself never holds 100 MB.
size_t write_huge_notebook(const fs::path& path, int cells, size_t png_bytes) {
  std::ofstream f(path, std::ios::binary);
  f << R"j({"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "python3", )j"
       R"j("language": "python", "display_name": "Python 3"}}, "cells": [)j";
  std::string png(png_bytes, 'A');
  for (size_t i = 0; i < png.size(); i += 77) png[i] = "0123456789+/abcdefXYZ"[i % 21];
  for (int i = 0; i < cells; ++i) {
    if (i) f << ",";
    f << R"j({"cell_type": "markdown", "id": "m)j" << i << R"j(", "metadata": {}, "source": ["## Plot )j"
      << i << R"j("]},)j";
    f << R"j({"cell_type": "code", "id": "c)j" << i << R"j(", "execution_count": )j" << i + 1
      << R"j(, "metadata": {}, "source": ["import numpy as np\n", "%matplotlib inline\n", "x = )j"
      << i << R"j(\n", "!echo {x}\n", "plt.plot(np.arange(x))"], "outputs": [)j"
      << R"j({"output_type": "stream", "name": "stdout", "text": [")j" << i << R"j(\r\n"]}, )j"
      << R"j({"output_type": "display_data", "metadata": {}, "data": {"text/plain": )j"
      << R"j(["<Figure size 640x480 with 1 Axes>"], "image/png": ")j" << png << R"j("}}]})j";
  }
  f << "]}\n";
  f.close();
  return fs::file_size(path);
}

TEST(LargeNotebookTest, HundredMegabytesOfOutputs) {
  char tmpl[] = "/tmp/wfrun-nbhuge.XXXXXX";
  fs::path dir = mkdtemp(tmpl);
  fs::path nb_path = dir / "huge.ipynb";
  size_t size = write_huge_notebook(nb_path, 200, 500 * 1024);
  ASSERT_GT(size, 100u * 1000 * 1000);

  long rss_before = peak_rss_kb();
  auto t0 = std::chrono::steady_clock::now();
  auto nb = read_notebook(nb_path.string());
  ASSERT_TRUE(nb) << nb.error().str();
  auto script = nb_to_py(*nb, ConvertOptions{});
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  long grown_mb = (peak_rss_kb() - rss_before) / 1024;
  fs::remove_all(dir);

  ASSERT_TRUE(script) << script.error().str();
  EXPECT_EQ(nb->cells().size(), 400u);
  EXPECT_NE(script->find("_wf.system(\"echo {x}\")"), std::string::npos);
  EXPECT_LT(script->size(), 200u * 1024) << "outputs do not belong in the script";
  std::printf("read + nb2py of %.0f MB: %.2f s, peak memory +%ld MB\n", size / 1e6, secs,
              grown_mb);
  // Generous bounds for a loaded machine (about 2 s optimised, 15 s in a Debug build, where
  // nlohmann_json's lexer is slow): a quadratic step or a copy per cell would blow through them.
#ifdef NDEBUG
  EXPECT_LT(secs, 15.0);
#else
  EXPECT_LT(secs, 90.0);
#endif
  long bound_mb = static_cast<long>(4 * size / (1024 * 1024));
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer keeps up to 256 MB of freed memory in quarantine (and pads each block):
  // its RSS is not the program's.
  bound_mb += 256;
#endif
  EXPECT_LT(grown_mb, bound_mb);
}

}  // namespace
}  // namespace wfrun::notebook
