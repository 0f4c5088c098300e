// A bounded multi-producer, multi-consumer queue: moodycamel's lock-free
// BlockingConcurrentQueue plus a counting semaphore of free slots, so a full
// queue makes producers wait (backpressure) instead of growing without bound.
#pragma once
#include <concurrentqueue/blockingconcurrentqueue.h>

#include <cstdint>
#include <utility>

namespace ds::pipeline {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(int capacity) : queue_(static_cast<size_t>(capacity) * 2), free_slots_(capacity) {}

  // Waits up to timeout_us for a free slot; false if none came (the caller
  // re-checks cancellation and tries again). `item` is moved from only on success.
  bool push(T &item, int64_t timeout_us) {
    if (!free_slots_.wait(timeout_us)) return false;
    queue_.enqueue(std::move(item));
    return true;
  }
  // Ignores the bound: for end-of-stream markers, which must never be dropped.
  void push_unbounded(T &&item) { queue_.enqueue(std::move(item)); }

  bool pop(T &out, int64_t timeout_us) {
    if (!queue_.wait_dequeue_timed(out, timeout_us)) return false;
    free_slots_.signal();
    return true;
  }
  size_t size_approx() const { return queue_.size_approx(); }

 private:
  moodycamel::BlockingConcurrentQueue<T> queue_;
  moodycamel::LightweightSemaphore free_slots_;
};

}  // namespace ds::pipeline
