#include <gtest/gtest.h>

#include "engine/notebook/notebook.h"

namespace wfrun::notebook {
namespace {

std::string tr(std::string_view src, UnsupportedMagic u = UnsupportedMagic::kFail) {
  ConvertOptions o;
  o.unsupported = u;
  auto r = translate_cell(src, o, "nb.ipynb", 3);
  return r ? *r : "ERROR: " + r.error().str();
}

TEST(ConvertTest, ShellEscapes) {
  EXPECT_EQ(tr("!ls -l {x}"), "_wf.system(\"ls -l {x}\")");
  EXPECT_EQ(tr("files = !ls $d"), "files = _wf.getoutput(\"ls $d\")");
  EXPECT_EQ(tr("for f in x:\n    !echo \"{f}\""),
            "for f in x:\n    _wf.system(\"echo \\\"{f}\\\"\")");
}

TEST(ConvertTest, LineMagics) {
  EXPECT_EQ(tr("%cd /tmp\n%pwd"), "_wf.line_magic(\"cd\", \"/tmp\")\n_wf.line_magic(\"pwd\", \"\")");
  EXPECT_EQ(tr("t = %timeit -o f()"), "t = _wf.line_magic(\"timeit\", \"-o f()\")");
  EXPECT_EQ(tr("x = 1 % 2\n%matplotlib inline"),
            "x = 1 % 2\n_wf.line_magic(\"matplotlib\", \"inline\")");
}

TEST(ConvertTest, NotInsideStrings) {
  EXPECT_EQ(tr("s = '''\n!not a command\n%notmagic\n'''"), "s = '''\n!not a command\n%notmagic\n'''");
  EXPECT_EQ(tr("f(1,\n  2)"), "f(1,\n  2)");
}

TEST(ConvertTest, CellMagicKeepsLineCount) {
  EXPECT_EQ(tr("%%bash\necho \"hi\"\nls\n"),
            "_wf.cell_magic(\"bash\", \"\", \"\"\"\\\necho \\\"hi\\\"\nls\n\"\"\")");
  EXPECT_EQ(tr("%%writefile -a f.txt\nx"),
            "_wf.cell_magic(\"writefile\", \"-a f.txt\", \"\"\"\\\nx\\n\"\"\")");
}

TEST(ConvertTest, HelpLinesDropped) {
  EXPECT_EQ(tr("import os\nos.path?"), "import os\npass  # os.path?");
  EXPECT_EQ(tr("?"), "pass  # ?");
  EXPECT_EQ(tr("%run?"), "pass  # %run?");
}

TEST(ConvertTest, IntrospectionMagics) {
  EXPECT_EQ(tr("%lsmagic"), "_wf.line_magic(\"lsmagic\", \"\")");
  EXPECT_EQ(tr("%debug"), "_wf.line_magic(\"debug\", \"\")");
  // A script has no cell history: nb2py says so rather than print nothing.
  EXPECT_EQ(tr("%history -n"), "ERROR: nb.ipynb: cell 3, line 1: unsupported magic %history");
}

TEST(ConvertTest, ScriptDefinesGetIpython) {
  auto nb = parse_notebook(R"nb({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
      {"cell_type": "code", "id": "a", "metadata": {}, "outputs": [], "execution_count": null,
       "source": "ip = get_ipython()"}]})nb", "g.ipynb");
  ASSERT_TRUE(nb) << nb.error().str();
  auto py = nb_to_py(*nb, ConvertOptions{});
  ASSERT_TRUE(py) << py.error().str();
  EXPECT_NE(py->find("def get_ipython():"), std::string::npos);
}

TEST(ConvertTest, UnsupportedMagic) {
  EXPECT_EQ(tr("x = 1\n%hello world"), "ERROR: nb.ipynb: cell 3, line 2: unsupported magic %hello");
  EXPECT_EQ(tr("%%csv\na,b"), "ERROR: nb.ipynb: cell 3, line 1: unsupported magic %%csv");
  EXPECT_EQ(tr("%hello world", UnsupportedMagic::kRuntimeError),
            "_wf.line_magic(\"hello\", \"world\")");
}

std::string keep(std::string_view src) {
  ConvertOptions o;
  o.keep_results = true;
  auto r = translate_cell(src, o, "nb.ipynb", 3);
  return r ? *r : "ERROR: " + r.error().str();
}

TEST(ConvertTest, KeepResultsWrapsTheFinalExpression) {
  EXPECT_EQ(keep("1+1"), "_wf.result(3, 1+1\n)");
  EXPECT_EQ(keep("import os\nf(1,\n  2)  # note\n\n"),
            "import os\n_wf.result(3, f(1,\n  2)  # note\n)");
  EXPECT_EQ(keep("a == b"), "_wf.result(3, a == b\n)");
  EXPECT_EQ(keep("s = 'x'\ns[0] != '='"), "s = 'x'\n_wf.result(3, s[0] != '='\n)");
  EXPECT_EQ(keep("lambda x: x"), "_wf.result(3, lambda x: x\n)");
  EXPECT_EQ(keep("df.loc[df.a > 1, 'b']"), "_wf.result(3, df.loc[df.a > 1, 'b']\n)");
  EXPECT_EQ(keep("'''text\n= not code'''"), "_wf.result(3, '''text\n= not code'''\n)");
}

TEST(ConvertTest, KeepResultsLeavesStatementsAlone) {
  for (const char* src : {"x = 1", "x += 1", "d[k] = 1", "x: int = 3", "x;", "a; b",
                          "for i in x:\n    i", "def f():\n    return 1", "print(1)",
                          "display(x)", "!ls", "import os", "if x:\n    y\nelse:\n    z",
                          "# only a comment", "", "@dec\ndef f(): pass"})
    EXPECT_EQ(keep(src), tr(src)) << src;
}

TEST(ConvertTest, Prompts) {
  EXPECT_EQ(tr(">>> a = 1\n>>> print(a)"), "a = 1\nprint(a)");
  EXPECT_EQ(tr("In [1]: for i in x:\n   ...:     f(i)"), "for i in x:\n    f(i)");
}

TEST(ParamsTest, PythonLiterals) {
  EXPECT_EQ(python_literal(nlohmann::json::parse(R"({"a": [1, 2.5, true, null, "x\"y"]})")),
            "{\"a\": [1, 2.5, True, None, \"x\\\"y\"]}");
  EXPECT_EQ(python_literal(parse_parameter_value("3")), "3");
  EXPECT_EQ(python_literal(parse_parameter_value("0.1")), "0.1");
  EXPECT_EQ(python_literal(parse_parameter_value("hello")), "\"hello\"");
  EXPECT_EQ(python_literal(parse_parameter_value("'3'")), "\"3\"");
  EXPECT_EQ(python_literal(parse_parameter_value("[1, a]")), "[1, \"a\"]");
}

}  // namespace
}  // namespace wfrun::notebook
