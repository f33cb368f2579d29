#include "ferry/common/clock.h"

#include <chrono>

namespace ferry {
namespace {

class RealClock : public Clock {
 public:
  int64_t NowMillis() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  int64_t MonotonicMicros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace

Clock* Clock::Real() {
  static RealClock* clock = new RealClock();
  return clock;
}

int64_t FakeClock::NowMillis() const {
  std::lock_guard<std::mutex> lock(mu_);
  return micros_ / 1000;
}

int64_t FakeClock::MonotonicMicros() const {
  std::lock_guard<std::mutex> lock(mu_);
  return micros_;
}

void FakeClock::AdvanceMicros(int64_t delta) {
  std::lock_guard<std::mutex> lock(mu_);
  micros_ += delta;
}

}  // namespace ferry
