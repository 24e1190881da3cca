// Job output: lines, long lines, redaction across reads, a 50 MB job streamed to its log.
#include "engine/output.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>

#include "base/fd.h"
#include "tests/engine/helpers.h"

namespace wfrun::engine {
namespace {

using testing::job;
using testing::options;
using testing::read_text;
using testing::Recorder;
using testing::run_yaml;
using testing::TempDir;

struct SinkHarness {
  explicit SinkHarness(const Redactor* r = nullptr)
      : log(::open((dir / "log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644)),
        sink(log.get(), r, [this](std::string_view l) { lines.emplace_back(l); }) {}
  std::string log_text() { return read_text(dir / "log"); }
  TempDir dir;
  UniqueFd log;
  std::vector<std::string> lines;
  OutputSink sink;
};

TEST(Output, SplitsLinesAcrossChunks) {
  SinkHarness h;
  for (std::string chunk : {"one\ntw", "o\n", "", "thr", "ee\nfour"})
    h.sink.write(chunk.data(), chunk.size());
  EXPECT_EQ(h.lines, (std::vector<std::string>{"one", "two", "three"}));
  h.sink.finish();
  EXPECT_EQ(h.lines.back(), "four");
  EXPECT_EQ(h.log_text(), "one\ntwo\nthree\nfour");
}

TEST(Output, LongLinesArriveInPieces) {
  SinkHarness h;
  std::string big(kMaxLine * 2 + 10, 'x');
  big += '\n';
  h.sink.write(big.data(), big.size());
  h.sink.finish();
  ASSERT_EQ(h.lines.size(), 3u);
  EXPECT_EQ(h.lines[0].size(), kMaxLine);
  EXPECT_EQ(h.lines[1].size(), kMaxLine);
  EXPECT_EQ(h.lines[2].size(), 10u);
  EXPECT_EQ(h.log_text(), big);
}

TEST(Output, RedactsPerLineEvenWhenASecretIsSplitAcrossReads) {
  Redactor r;
  r.add("hunter2");
  SinkHarness h(&r);
  for (std::string chunk : {"pass=hun", "ter2 ok\nhunter", "2\n", "tail hunter2"})
    h.sink.write(chunk.data(), chunk.size());
  h.sink.finish();
  EXPECT_EQ(h.lines, (std::vector<std::string>{"pass=*** ok", "***", "tail ***"}));
  EXPECT_EQ(h.log_text(), "pass=*** ok\n***\ntail ***");
}

// A secret that straddles a kMaxLine boundary of an overlong line (a token printed in a huge
// JSON dump, say) is masked too, however the line arrives.
TEST(Output, RedactsASecretAcrossPiecesOfAnOverlongLine) {
  Redactor r;
  r.add("hunter2");
  r.add("longer-secret-value");
  std::string line;
  for (size_t at : {kMaxLine - 3, 2 * kMaxLine - 10, 3 * kMaxLine - 1}) {
    line.resize(at, 'x');
    line += at == 2 * kMaxLine - 10 ? "longer-secret-value" : "hunter2";
  }
  line += std::string(100, 'y') + "\n";
  for (size_t chunk : {line.size(), size_t{4096}, size_t{7}}) {
    SinkHarness h(&r);
    for (size_t i = 0; i < line.size(); i += chunk) {
      size_t n = std::min(chunk, line.size() - i);
      h.sink.write(line.data() + i, n);
    }
    h.sink.finish();
    std::string log = h.log_text();
    EXPECT_EQ(log.find("hunter"), std::string::npos) << "chunk " << chunk;
    EXPECT_EQ(log.find("secret"), std::string::npos) << "chunk " << chunk;
    size_t masks = 0;
    for (size_t p = log.find("***"); p != std::string::npos; p = log.find("***", p + 3)) ++masks;
    EXPECT_EQ(masks, 3u) << "chunk " << chunk;
    std::string joined;
    for (const auto& l : h.lines) {
      EXPECT_LE(l.size(), kMaxLine);
      joined += l;
    }
    EXPECT_EQ(joined + "\n", log);
    EXPECT_EQ(log.size(), line.size() - 7 - 19 - 7 + 9);
  }
}

long max_rss_kb() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/// Counts lines without keeping them.
class Counter : public RunObserver {
 public:
  void job_output(const std::string& job, std::string_view line) override {
    ++lines;
    all_equal = all_equal && line == expected;
  }
  std::string expected;
  size_t lines = 0;
  bool all_equal = true;
};

TEST(Output, FiftyMegabytesStreamToTheLog) {
  TempDir dir;
  std::string expected;
  for (int i = 0; i < 9; ++i) expected += "0123456789";
  expected += "012345678";
  Counter counter;
  counter.expected = expected;
  // 50 MiB of 100-byte lines; the peak memory of this process must not grow with it.
  constexpr long kLines = 50L * 1024 * 1024 / 100;
  long before = max_rss_kb();
  auto wf = testing::parse("jobs:\n  big:\n    uses: script@v1\n    with:\n      script: yes " +
                           expected + " | head -n " + std::to_string(kLines) + "\n");
  auto r = run_workflow(wf, options(dir), counter);
  ASSERT_TRUE(r);
  RunResult run = std::move(*r);
  long grew_kb = max_rss_kb() - before;
  ASSERT_EQ(run.state, RunState::kSucceeded);
  EXPECT_EQ(counter.lines, static_cast<size_t>(kLines));
  EXPECT_TRUE(counter.all_equal);
  EXPECT_LT(grew_kb, 16 * 1024) << "peak RSS grew by " << grew_kb << " KiB";
  // Byte-exact: every line as printed.
  std::ifstream log(job(run, "big").log_path, std::ios::binary);
  std::string line;
  long n = 0;
  bool all_equal = true;
  while (std::getline(log, line)) {
    all_equal = all_equal && line == expected;
    ++n;
  }
  EXPECT_TRUE(all_equal);
  EXPECT_EQ(n, kLines);
  EXPECT_EQ(static_cast<long>(
                std::ifstream(job(run, "big").log_path, std::ios::ate | std::ios::binary).tellg()),
            kLines * 100);
}

TEST(Output, SecretsAreMaskedInLogAndObserver) {
  TempDir dir;
  Recorder rec;
  RunOptions opts = options(dir);
  opts.secrets = {{"token", "tok-Secret-123"}, {"unused", "never-printed"}};
  RunResult run = run_yaml(R"YAML(
jobs:
  leak:
    uses: script@v1
    env: {TOKEN: "secret:token"}
    with:
      script: |
        echo "token is $TOKEN"
        printf 'split %s' "${TOKEN:0:5}"; sleep 0.1; printf '%s end\n' "${TOKEN:5}"
        echo "$TOKEN" >&2
        exit 1
)YAML",
                           opts, &rec);
  const JobResult& j = job(run, "leak");
  std::string log = read_text(j.log_path);
  EXPECT_EQ(log, "token is ***\nsplit *** end\n***\n");
  EXPECT_EQ(rec.lines["leak"], (std::vector<std::string>{"token is ***", "split *** end", "***"}));
  EXPECT_EQ(read_text(run.dir + "/run.json").find("tok-Secret"), std::string::npos);
}

}  // namespace
}  // namespace wfrun::engine
