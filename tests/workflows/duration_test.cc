#include "workflows/duration.h"

#include <gtest/gtest.h>

namespace wfrun::workflows {
namespace {

TEST(ParseDuration, AcceptsUnitsAndPlainSeconds) {
  EXPECT_DOUBLE_EQ(*parse_duration("45s"), 45);
  EXPECT_DOUBLE_EQ(*parse_duration("90m"), 5400);
  EXPECT_DOUBLE_EQ(*parse_duration("1h30m"), 5400);
  EXPECT_DOUBLE_EQ(*parse_duration("1.5h"), 5400);
  EXPECT_DOUBLE_EQ(*parse_duration("2d"), 172800);
  EXPECT_DOUBLE_EQ(*parse_duration("1d2h3m4s"), 93784);
  EXPECT_DOUBLE_EQ(*parse_duration("120"), 120);
  EXPECT_DOUBLE_EQ(*parse_duration("0.5"), 0.5);
  EXPECT_DOUBLE_EQ(*parse_duration(" 10m "), 600);
  EXPECT_DOUBLE_EQ(*parse_duration("1H"), 3600);
}

TEST(ParseDuration, RejectsOthers) {
  for (const char* bad : {"", "m", "90 minutes", "1m1h", "1h1h", "-5s", "1.h", "5x", "1h 30m"}) {
    EXPECT_FALSE(parse_duration(bad).ok()) << bad;
  }
  EXPECT_EQ(parse_duration("90 minutes").error().message(),
            "'90 minutes' is not a duration; use a number with a unit, e.g. 45s, 90m, 1h30m, 1.5h "
            "or 2d");
}

TEST(ParseMemory, DecimalAndBinaryUnits) {
  EXPECT_EQ(*parse_memory("512Mi"), 512LL << 20);
  EXPECT_EQ(*parse_memory("16G"), 16000000000LL);
  EXPECT_EQ(*parse_memory("4GB"), 4000000000LL);
  EXPECT_EQ(*parse_memory("1Ti"), 1LL << 40);
  EXPECT_EQ(*parse_memory("2GiB"), 2LL << 30);
  EXPECT_EQ(*parse_memory("1.5Gi"), 3LL << 29);
  EXPECT_EQ(*parse_memory("4096"), 4096);
  EXPECT_EQ(*parse_memory("100b"), 100);
  EXPECT_EQ(*parse_memory("8k"), 8000);
}

TEST(ParseMemory, RejectsOthers) {
  for (const char* bad : {"", "G", "16 G", "16Gx", "16Xi", "-1G", "1e3", "16gigs"}) {
    EXPECT_FALSE(parse_memory(bad).ok()) << bad;
  }
  EXPECT_EQ(parse_memory("lots").error().message(),
            "'lots' is not a memory size; use e.g. 512Mi, 16Gi, 4GB or a number of bytes");
  EXPECT_FALSE(parse_memory("99999999P").ok());
}

}  // namespace
}  // namespace wfrun::workflows
