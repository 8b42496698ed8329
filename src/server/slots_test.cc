#include "server/slots.h"

#include <gtest/gtest.h>

#include "core/thread_pool.h"
#include "testing/refdata.h"

namespace omni::server {
namespace {

TEST(SlotPool, RoutesToTheSlotWithTheLongestSharedPrefix) {
  auto model = llm::Model::load(testing::refdata("llm/models/stories260K.gguf"));
  ThreadPool pool(1);
  SlotPool slots(model, 2, 0, {.n_ctx = 64, .pool = &pool}, nullptr);
  const std::vector<int32_t> a = {1, 10, 11, 12}, b = {1, 20, 21, 22};
  const auto later = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  {
    std::unique_ptr<SlotLease> la, lb, none;
    ASSERT_EQ(slots.acquire(a, later, la), AcquireStatus::kOk);
    ASSERT_EQ(slots.acquire(b, later, lb), AcquireStatus::kOk);
    EXPECT_EQ(la->index(), 0u);
    EXPECT_EQ(lb->index(), 1u);
    la->context().eval(a);
    lb->context().eval(b);
    // Both busy and no queue: rejected at once.
    EXPECT_EQ(slots.acquire(a, later, none), AcquireStatus::kQueueFull);
  }
  std::vector<int32_t> b2 = b, a2 = a;
  b2.push_back(30);
  a2.push_back(40);
  std::unique_ptr<SlotLease> l1, l2;
  ASSERT_EQ(slots.acquire(b2, later, l1), AcquireStatus::kOk);
  EXPECT_EQ(l1->index(), 1u);
  ASSERT_EQ(slots.acquire(a2, later, l2), AcquireStatus::kOk);
  EXPECT_EQ(l2->index(), 0u);
}

TEST(SlotPool, WaitsForAFreeSlotAndStopsOnShutdown) {
  auto model = llm::Model::load(testing::refdata("llm/models/stories260K.gguf"));
  ThreadPool pool(1);
  SlotPool slots(model, 1, 1, {.n_ctx = 32, .pool = &pool}, nullptr);
  std::unique_ptr<SlotLease> held, waited;
  const auto now = std::chrono::steady_clock::now();
  ASSERT_EQ(slots.acquire({}, now + std::chrono::seconds(5), held), AcquireStatus::kOk);
  EXPECT_EQ(slots.acquire({}, now + std::chrono::milliseconds(20), waited), AcquireStatus::kTimeout);
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    held.reset();
  });
  EXPECT_EQ(slots.acquire({}, now + std::chrono::seconds(30), waited), AcquireStatus::kOk);
  releaser.join();
  std::unique_ptr<SlotLease> late;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    slots.shutdown();
  });
  EXPECT_EQ(slots.acquire({}, std::chrono::steady_clock::now() + std::chrono::seconds(30), late),
            AcquireStatus::kShuttingDown);
  stopper.join();
}

}  // namespace
}  // namespace omni::server
