// The allocator against a simulated inventory of 8 GPUs; the job environment and flags.

#include "engine/gpu/allocator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <set>
#include <thread>

namespace wfrun::gpu {
namespace {

std::vector<GpuInfo> eight(const std::string& model = "H100") {
  std::vector<GpuInfo> v;
  for (int i = 0; i < 8; ++i) v.push_back(simulated_gpu(model, i));
  return v;
}

GpuRequest n_gpus(int n, std::string model = "") { return GpuRequest{n, std::move(model), ""}; }

TEST(Allocator, LowestIndicesFirstAndExclusive) {
  GpuAllocator a(eight());
  EXPECT_EQ(a.try_acquire(n_gpus(2), "a"), (std::vector<int>{0, 1}));
  EXPECT_EQ(a.try_acquire(n_gpus(3), "b"), (std::vector<int>{2, 3, 4}));
  EXPECT_EQ(a.free_count(), 3);
  a.release("a");
  EXPECT_EQ(a.try_acquire(n_gpus(3), "c"), (std::vector<int>{0, 1, 5}));
  EXPECT_EQ(a.held_by("b"), (std::vector<int>{2, 3, 4}));
}

TEST(Allocator, ZeroGpusAlwaysSucceeds) {
  GpuAllocator a(eight());
  ASSERT_TRUE(a.try_acquire(n_gpus(8), "all"));
  EXPECT_EQ(a.try_acquire(n_gpus(0), "cpu"), std::vector<int>{});
  GpuAllocator none({});
  EXPECT_TRUE(none.can_ever_satisfy(n_gpus(0)));
  EXPECT_EQ(none.try_acquire(n_gpus(0), "cpu"), std::vector<int>{});
}

TEST(Allocator, WaitingAndWaking) {
  GpuAllocator a(eight());
  ASSERT_TRUE(a.try_acquire(n_gpus(6), "big"));
  EXPECT_EQ(a.try_acquire(n_gpus(4), "next"), std::nullopt);  // waits
  EXPECT_EQ(a.try_acquire(n_gpus(4), "next"), std::nullopt);  // still
  EXPECT_EQ(a.held_by("next"), std::vector<int>{});
  a.release("big");
  EXPECT_EQ(a.try_acquire(n_gpus(4), "next"), (std::vector<int>{0, 1, 2, 3}));
}

TEST(Allocator, AcquireTwiceReturnsTheSameSet) {
  GpuAllocator a(eight());
  EXPECT_EQ(a.try_acquire(n_gpus(2), "a"), (std::vector<int>{0, 1}));
  EXPECT_EQ(a.try_acquire(n_gpus(2), "a"), (std::vector<int>{0, 1}));
  EXPECT_EQ(a.free_count(), 6);
  a.release("nobody");
  EXPECT_EQ(a.free_count(), 6);
}

TEST(Allocator, ModelConstraints) {
  std::vector<GpuInfo> mixed;
  for (int i = 0; i < 4; ++i) mixed.push_back(simulated_gpu("A100", i));
  for (int i = 4; i < 8; ++i) mixed.push_back(simulated_gpu("A100-80G", i));
  GpuAllocator a(mixed);
  EXPECT_EQ(a.try_acquire(n_gpus(2, "A100-80G"), "big"), (std::vector<int>{4, 5}));
  EXPECT_EQ(a.try_acquire(n_gpus(3, "A100"), "any-a100"), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(a.try_acquire(n_gpus(3, "A100-80G"), "big2"), std::nullopt);  // only 6, 7 free
  EXPECT_EQ(a.try_acquire(n_gpus(2, "A100-80G"), "big3"), (std::vector<int>{6, 7}));
  EXPECT_EQ(a.try_acquire(n_gpus(1), "any"), std::vector<int>{3});
  EXPECT_FALSE(a.can_ever_satisfy(n_gpus(5, "A100-80G")));
  EXPECT_TRUE(a.can_ever_satisfy(n_gpus(8, "A100")));
  EXPECT_FALSE(a.can_ever_satisfy(n_gpus(1, "H100")));
}

TEST(Allocator, ImpossibleRequests) {
  GpuAllocator a(eight());
  EXPECT_FALSE(a.can_ever_satisfy(n_gpus(9)));
  EXPECT_EQ(a.unsatisfiable_message(n_gpus(9), "train"),
            "job 'train' asks for 9 GPUs but this machine has 8 GPUs (8 × NVIDIA H100 80GB HBM3)");
  GpuRequest a100{2, "A100-80G", "A100-80Gx2"};
  EXPECT_FALSE(a.can_ever_satisfy(a100));
  EXPECT_EQ(a.unsatisfiable_message(a100, "train"),
            "job 'train' asks for 2 GPUs of model A100-80G (instance-type A100-80Gx2) but this "
            "machine has 0 matching GPUs (of 8: 8 × NVIDIA H100 80GB HBM3)");
  EXPECT_EQ(a.try_acquire(a100, "train"), std::nullopt);
  GpuAllocator none({});
  EXPECT_FALSE(none.can_ever_satisfy(n_gpus(1)));
  EXPECT_EQ(none.unsatisfiable_message(n_gpus(1), "t"),
            "job 't' asks for 1 GPU but this machine has no NVIDIA GPU");
}

// Random acquires and releases: no GPU is ever held by two jobs, a job always gets exactly
// what it asked for, of the right model, and a request fails only when too few are free.
TEST(Allocator, RandomisedNoDoubleAllocation) {
  std::vector<GpuInfo> mixed;
  for (int i = 0; i < 8; ++i) mixed.push_back(simulated_gpu(i % 2 ? "A100-80G" : "A100", i));
  GpuAllocator a(mixed);
  std::mt19937 rng(42);
  std::map<std::string, std::vector<int>> held;
  const char* models[] = {"", "A100", "A100-80G"};
  for (int step = 0; step < 20000; ++step) {
    std::string job = "j" + std::to_string(rng() % 12);
    if (held.count(job) && rng() % 2) {
      a.release(job);
      held.erase(job);
    } else if (!held.count(job)) {
      GpuRequest r{static_cast<int>(rng() % 5), models[rng() % 3], ""};
      int free_matching = 0;
      for (const auto& g : mixed) {
        bool taken = false;
        for (const auto& [j, v] : held) taken = taken || std::count(v.begin(), v.end(), g.index);
        if (!taken && model_matches(r.model, g.name, g.memory_total_mib)) ++free_matching;
      }
      auto got = a.try_acquire(r, job);
      ASSERT_EQ(got.has_value(), free_matching >= r.count) << "step " << step;
      if (got && !got->empty()) {
        ASSERT_EQ(static_cast<int>(got->size()), r.count);
        for (int g : *got) {
          ASSERT_TRUE(model_matches(r.model, mixed[g].name, mixed[g].memory_total_mib));
        }
        held[job] = *got;
      }
    }
    std::set<int> all;
    size_t total = 0;
    for (const auto& [j, v] : held) {
      all.insert(v.begin(), v.end());
      total += v.size();
      ASSERT_EQ(a.held_by(j), v);
    }
    ASSERT_EQ(all.size(), total) << "a GPU held twice at step " << step;
    ASSERT_EQ(a.free_count(), 8 - static_cast<int>(total));
  }
}

TEST(BlockingAllocator, ReleaseWakesAWaiter) {
  BlockingGpuAllocator a(eight());
  ASSERT_TRUE(a.try_acquire(n_gpus(8), "first"));
  std::atomic<bool> got{false};
  std::vector<int> gpus;
  std::thread waiter([&] {
    gpus = *a.acquire(n_gpus(2), "second");
    got = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(got);
  a.release("first");
  waiter.join();
  EXPECT_TRUE(got);
  EXPECT_EQ(gpus, (std::vector<int>{0, 1}));
  EXPECT_EQ(a.acquire(n_gpus(9), "never"), std::nullopt);  // at once, no wait
}

TEST(BlockingAllocator, ThreadsNeverShareAGpu) {
  BlockingGpuAllocator a(eight());
  std::mutex mu;
  std::vector<int> owner(8, -1);
  std::atomic<int> violations{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      std::string job = "t" + std::to_string(t);
      for (int i = 0; i < 200; ++i) {
        auto got = a.acquire(n_gpus(1 + (t + i) % 3), job);
        {
          std::lock_guard<std::mutex> lock(mu);
          for (int g : *got) {
            if (owner[g] != -1) ++violations;
            owner[g] = t;
          }
        }
        {
          std::lock_guard<std::mutex> lock(mu);
          for (int g : *got) owner[g] = -1;
        }
        a.release(job);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(violations, 0);
}

TEST(GpuEnv, Host) {
  EXPECT_EQ(gpu_env({2, 5}, false),
            (std::map<std::string, std::string>{{"CUDA_DEVICE_ORDER", "PCI_BUS_ID"},
                                                {"CUDA_VISIBLE_DEVICES", "2,5"}}));
  // Jobs that asked for none see none.
  EXPECT_EQ(gpu_env({}, false),
            (std::map<std::string, std::string>{{"CUDA_DEVICE_ORDER", "PCI_BUS_ID"},
                                                {"CUDA_VISIBLE_DEVICES", ""}}));
}

TEST(GpuEnv, Container) {
  EXPECT_EQ(gpu_env({2, 5}, true),
            (std::map<std::string, std::string>{{"CUDA_DEVICE_ORDER", "PCI_BUS_ID"},
                                                {"CUDA_VISIBLE_DEVICES", "0,1"},
                                                {"NVIDIA_VISIBLE_DEVICES", "2,5"}}));
  EXPECT_EQ(gpu_env({}, true),
            (std::map<std::string, std::string>{{"CUDA_DEVICE_ORDER", "PCI_BUS_ID"},
                                                {"CUDA_VISIBLE_DEVICES", ""},
                                                {"NVIDIA_VISIBLE_DEVICES", "void"}}));
}

}  // namespace
}  // namespace wfrun::gpu
