#include <gtest/gtest.h>

#include "engine/notebook/notebook.h"

namespace wfrun::notebook {
namespace {

std::string err(std::string_view text) {
  auto r = parse_notebook(text, "a.ipynb");
  return r ? "ok" : r.error().str();
}

TEST(NbformatTest, Malformed) {
  EXPECT_EQ(err("{\n  \"cells\": [,]\n}").rfind("a.ipynb:2:", 0), 0u) << err("{\n  \"cells\": [,]\n}");
  EXPECT_EQ(err(R"({"cells": []})"), "a.ipynb: nbformat: not a notebook: no 'nbformat' field");
  EXPECT_EQ(err(R"({"nbformat": 5, "cells": []})"),
            "a.ipynb: nbformat: unsupported nbformat 5 (wfrun reads nbformat 4.0-4.5 and 3)");
  EXPECT_EQ(err(R"({"nbformat": 4, "nbformat_minor": 2, "metadata": {},
                   "cells": [{"cell_type": "code", "metadata": {}}]})"),
            "a.ipynb: cells[0]: code cell has no 'source'");
}

TEST(NbformatTest, NonPythonKernel) {
  auto r = parse_notebook(R"({"nbformat": 4, "nbformat_minor": 2, "cells": [],
      "metadata": {"kernelspec": {"name": "ir", "language": "R"}}})", "r.ipynb");
  ASSERT_TRUE(r);
  auto st = check_python_kernel(*r);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().str(),
            "r.ipynb: metadata.kernelspec.language: kernel 'ir' runs R, not Python; wfrun runs "
            "Python notebooks only");
}

TEST(NbformatTest, UpgradesV3) {
  auto r = parse_notebook(R"({"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": ""},
      "worksheets": [{"cells": [
        {"cell_type": "heading", "level": 2, "source": ["Title"], "metadata": {}},
        {"cell_type": "code", "input": ["x = 1\n", "x"], "language": "python",
         "outputs": [{"output_type": "pyout", "prompt_number": 1, "text": ["1"]}],
         "prompt_number": 1, "metadata": {}}]}]})", "v3.ipynb");
  ASSERT_TRUE(r) << r.error().str();
  const auto& cells = r->doc["cells"];
  ASSERT_EQ(cells.size(), 2u);
  EXPECT_EQ(cells[0]["cell_type"], "markdown");
  EXPECT_EQ(cells[0]["source"], "## Title");
  EXPECT_EQ(cell_source(cells[1]), "x = 1\nx");
  EXPECT_EQ(cells[1]["outputs"][0]["output_type"], "execute_result");
  EXPECT_EQ(r->doc["nbformat"], 4);
}

}  // namespace
}  // namespace wfrun::notebook
