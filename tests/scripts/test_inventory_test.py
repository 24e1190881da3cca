#!/usr/bin/python3
"""scripts/test-inventory against made-up trees and ctest reports: it must fail, naming what is
missing, whenever a test the tree defines did not run."""

import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../scripts/test-inventory")

# (The annotation is split here so that the inventory of this repository does not read it.)
TEST_CC = textwrap.dedent("""\
    TEST(Plain, One) {}
    TEST_F(Fixture,
           Two) {}
    TEST(DISABLED_Off, Three) {}
    TEST_P(Param, Each) {}
    // ci-%s: Files.Each/* one per tests/data/*.txt
    INSTANTIATE_TEST_SUITE_P(, Param, ::testing::Values(1, 2));
    """) % "expects"
CMAKE = "add_test(NAME Script.Check COMMAND true)\nadd_test(NAME Gen/${x} COMMAND true)\n"


def junit(cases):
    """cases: (name, status) with status run, fail, skipped or notrun."""
    body = ""
    for name, status in cases:
        inner = {"fail": '<failure message="Failed"/>', "skipped": '<skipped message="Skipped"/>'}.get(status, "")
        st = {"fail": "fail", "skipped": "notrun"}.get(status, status)
        body += '<testcase name="%s" classname="%s" time="0.1" status="%s">%s</testcase>\n' % (
            name, name, st, inner)
    return '<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="x" tests="%d">\n%s</testsuite>\n' % (
        len(cases), body)


ALL = [("Plain.One", "run"), ("Fixture.Two", "run"), ("Param.Each/0", "run"),
       ("Param.Each/1", "run"), ("Files.Each/a", "run"), ("Files.Each/b", "run"),
       ("Script.Check", "run")]


class TestInventory(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="wfrun-inventory-")
        root = self.root = self.dir.name
        os.makedirs(os.path.join(root, "tests/data"))
        with open(os.path.join(root, "tests/a_test.cc"), "w") as f:
            f.write(TEST_CC)
        with open(os.path.join(root, "tests/CMakeLists.txt"), "w") as f:
            f.write(CMAKE)
        for n in ("a", "b"):
            with open(os.path.join(root, "tests/data/%s.txt" % n), "w") as f:
                f.write(n)
        with open(os.path.join(root, "tests/data/untracked.txt"), "w") as f:
            f.write("not in git: not counted")
        subprocess.run(["git", "init", "-q", root], check=True)
        subprocess.run(["git", "-C", root, "add", "tests/a_test.cc", "tests/CMakeLists.txt",
                        "tests/data/a.txt", "tests/data/b.txt"], check=True)

    def tearDown(self):
        self.dir.cleanup()

    def check(self, cases, *flags):
        path = os.path.join(self.root, "junit.xml")
        with open(path, "w") as f:
            f.write(junit(cases))
        p = subprocess.run([sys.executable, SCRIPT, "--root", self.root, "--junit", path] + list(flags),
                           capture_output=True, text=True)
        return p.returncode, p.stdout + p.stderr

    def test_everything_ran(self):
        rc, out = self.check(ALL)
        self.assertEqual(rc, 0, out)
        self.assertIn("5 rules from the tree; ctest ran 7 tests", out)

    def test_a_missing_plain_test_fails_naming_it(self):
        rc, out = self.check([c for c in ALL if c[0] != "Fixture.Two"])
        self.assertEqual(rc, 1, out)
        self.assertIn("TEST_F(Fixture, Two) (tests/a_test.cc:2): 0 ran, 1 expected", out)

    def test_a_parameterised_suite_that_vanished_fails(self):
        rc, out = self.check([c for c in ALL if not c[0].startswith("Param.")])
        self.assertEqual(rc, 1, out)
        self.assertIn("TEST_P(Param, Each)", out)

    def test_fewer_instances_than_data_files_fails(self):
        rc, out = self.check([c for c in ALL if c[0] != "Files.Each/b"])
        self.assertEqual(rc, 1, out)
        self.assertIn("Files.Each/* one per tests/data/*.txt (2 files) (tests/a_test.cc:6): 1 ran, 2 expected", out)

    def test_a_literal_add_test_is_expected(self):
        rc, out = self.check([c for c in ALL if c[0] != "Script.Check"])
        self.assertEqual(rc, 1, out)
        self.assertIn("add_test(NAME Script.Check)", out)

    def test_a_failed_test_still_counts_as_run(self):
        # ctest itself fails the run; the inventory is about tests that did not run at all.
        rc, out = self.check([(n, "fail" if n == "Plain.One" else s) for n, s in ALL])
        self.assertEqual(rc, 0, out)

    def test_skips_are_listed_and_fail_only_when_forbidden(self):
        cases = [(n, "skipped" if n == "Plain.One" else s) for n, s in ALL]
        rc, out = self.check(cases)
        self.assertEqual(rc, 0, out)
        self.assertIn("skipped: Plain.One", out)
        rc, out = self.check(cases, "--forbid-skips")
        self.assertEqual(rc, 1, out)
        self.assertIn("present but not run: Plain.One [skipped]", out)

    def test_a_test_prefix_still_matches(self):
        rc, out = self.check([("unit." + n, s) for n, s in ALL])
        self.assertEqual(rc, 0, out)

    def test_list_names_every_rule(self):
        p = subprocess.run([sys.executable, SCRIPT, "--root", self.root, "--list"],
                           capture_output=True, text=True, check=True)
        self.assertNotIn("DISABLED_", p.stdout)
        self.assertEqual(len(p.stdout.splitlines()), 5, p.stdout)


if __name__ == "__main__":
    unittest.main()
