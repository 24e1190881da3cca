// Instance types and `gpus:` to GPU requests; the model matching rule.

#include "engine/gpu/request.h"

#include <gtest/gtest.h>

namespace wfrun::gpu {
namespace {

workflows::Resources res(std::string type, std::optional<int> gpus = std::nullopt) {
  workflows::Resources r;
  r.instance_type = std::move(type);
  r.gpus = gpus;
  return r;
}

GpuRequest req(int count, std::string model, std::string type) {
  return GpuRequest{count, std::move(model), std::move(type)};
}

TEST(GpuRequest, Table) {
  EXPECT_EQ(*gpu_request(res("")), req(0, "", ""));
  for (const char* c : {"C3", "C4", "C5", "C6", "C7", "C8", "C9", "C10"}) {
    EXPECT_EQ(*gpu_request(res(c)), req(0, "", c)) << c;
  }
  EXPECT_EQ(*gpu_request(res("Free-GPU")), req(1, "", "Free-GPU"));
  EXPECT_EQ(*gpu_request(res("Free-P5000")), req(1, "P5000", "Free-P5000"));
  for (const char* g : {"M4000", "P4000", "P5000", "P6000", "RTX4000", "RTX5000", "A4000", "A5000",
                        "A6000", "V100", "V100-32G", "A100", "A100-80G", "H100"}) {
    EXPECT_EQ(*gpu_request(res(g)), req(1, g, g)) << g;
  }
}

TEST(GpuRequest, MultiGpuNames) {
  EXPECT_EQ(*gpu_request(res("A100-80Gx8")), req(8, "A100-80G", "A100-80Gx8"));
  EXPECT_EQ(*gpu_request(res("V100x4")), req(4, "V100", "V100x4"));
  EXPECT_EQ(*gpu_request(res("H100x1")), req(1, "H100", "H100x1"));
  EXPECT_EQ(*gpu_request(res("h100")), req(1, "H100", "h100"));  // case-insensitive
  EXPECT_FALSE(gpu_request(res("C5x2")));                        // CPU types have no multi-GPU form
  EXPECT_FALSE(gpu_request(res("H100x0")));
  EXPECT_FALSE(gpu_request(res("H100x17")));
}

TEST(GpuRequest, GpusOverridesTheCountAndKeepsTheModel) {
  EXPECT_EQ(*gpu_request(res("", 2)), req(2, "", ""));
  EXPECT_EQ(*gpu_request(res("A100", 4)), req(4, "A100", "A100"));
  EXPECT_EQ(*gpu_request(res("C5", 1)), req(1, "", "C5"));
  EXPECT_EQ(*gpu_request(res("H100", 0)), req(0, "", "H100"));
}

TEST(GpuRequest, UnknownInstanceType) {
  workflows::Resources r = res("A10O");
  r.where["instance-type"] = Location{"wf.yaml", 7, 21, "jobs.train.resources.instance-type"};
  auto e = gpu_request(r);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().str(),
            "wf.yaml:7:21: unknown instance-type 'A10O' (did you mean 'A100'?); known types: C3, "
            "C4, C5, C6, C7, C8, C9, C10, Free-GPU, Free-P5000, M4000, P4000, P5000, P6000, "
            "RTX4000, RTX5000, A4000, A5000, A6000, V100, V100-32G, A100, A100-80G, H100, and "
            "NAMExN for N GPUs of a GPU type (e.g. A100-80Gx8)");
}

TEST(GpuRequest, BadGpuCount) {
  auto e = gpu_request(res("", -1));
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(), "gpus must be between 0 and 16, not -1");
}

TEST(GpuRequest, Str) {
  EXPECT_EQ(req(0, "", "").str(), "no GPU");
  EXPECT_EQ(req(1, "", "").str(), "1 GPU");
  EXPECT_EQ(req(8, "A100-80G", "A100-80Gx8").str(),
            "8 GPUs of model A100-80G (instance-type A100-80Gx8)");
}

TEST(ModelMatch, RealDeviceNames) {
  EXPECT_TRUE(model_matches("", "anything", 0));
  EXPECT_TRUE(model_matches("H100", "NVIDIA H100 80GB HBM3", 81559));
  EXPECT_TRUE(model_matches("A100-80G", "NVIDIA A100-SXM4-80GB", 81920));
  EXPECT_TRUE(model_matches("A100-80G", "NVIDIA A100 80GB PCIe", 81920));
  EXPECT_FALSE(model_matches("A100-80G", "NVIDIA A100-SXM4-40GB", 40960));
  EXPECT_TRUE(model_matches("A100", "NVIDIA A100-SXM4-40GB", 40960));
  EXPECT_TRUE(model_matches("A100", "NVIDIA A100-SXM4-80GB", 81920));  // bare: any size
  EXPECT_TRUE(model_matches("A100-80G", "NVIDIA A100-PCIE", 81920));   // size from memory
  EXPECT_FALSE(model_matches("A100-80G", "NVIDIA A100-PCIE", 40960));
  EXPECT_FALSE(model_matches("A100", "NVIDIA H100 80GB HBM3", 81559));
  EXPECT_FALSE(model_matches("A100", "NVIDIA A1000", 8192));  // tokens, not substrings
  EXPECT_TRUE(model_matches("V100", "Tesla V100-SXM2-16GB", 16384));
  EXPECT_TRUE(model_matches("V100-32G", "Tesla V100-SXM2-32GB", 32768));
  EXPECT_FALSE(model_matches("V100-32G", "Tesla V100-SXM2-16GB", 16384));
  EXPECT_TRUE(model_matches("P5000", "Quadro P5000", 16384));
  EXPECT_TRUE(model_matches("RTX4000", "Quadro RTX 4000", 8192));
  EXPECT_TRUE(model_matches("RTX5000", "Quadro RTX 5000", 16384));
  EXPECT_FALSE(model_matches("RTX4000", "Quadro RTX 5000", 16384));
  EXPECT_TRUE(model_matches("A6000", "NVIDIA RTX A6000", 49140));
  EXPECT_TRUE(model_matches("a6000", "NVIDIA RTX A6000", 49140));
  EXPECT_FALSE(model_matches("A4000", "NVIDIA RTX A6000", 49140));
}

}  // namespace
}  // namespace wfrun::gpu
