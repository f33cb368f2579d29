#ifndef FERRY_COMMON_CLOCK_H_
#define FERRY_COMMON_CLOCK_H_

#include <cstdint>
#include <mutex>

namespace ferry {

// Source of time. Injected everywhere time matters (timestamps, timeouts,
// batching windows) so tests run without sleeping. Implementations are
// thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock milliseconds since the Unix epoch.
  virtual int64_t NowMillis() const = 0;
  // Monotonic microseconds from an arbitrary origin; for durations only.
  virtual int64_t MonotonicMicros() const = 0;

  // The process-wide real clock. Never null, never destroyed.
  static Clock* Real();
};

// A clock that moves only when told. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_millis = 1'700'000'000'000) : micros_(start_millis * 1000) {}
  int64_t NowMillis() const override;
  int64_t MonotonicMicros() const override;
  void AdvanceMicros(int64_t delta);
  void AdvanceMillis(int64_t delta) { AdvanceMicros(delta * 1000); }

 private:
  mutable std::mutex mu_;
  int64_t micros_;
};

}  // namespace ferry

#endif  // FERRY_COMMON_CLOCK_H_
