#include "ferry/common/ids.h"

#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <random>

namespace ferry {
namespace {

std::array<uint8_t, 16> RandomBytes() {
  std::array<uint8_t, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    // RAND_bytes only fails without an entropy source; fall back rather
    // than hand out a constant id.
    std::random_device rd;
    for (auto& b : bytes) b = static_cast<uint8_t>(rd());
  }
  return bytes;
}

std::string Hex(const std::array<uint8_t, 16>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(32);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

}  // namespace

std::string NewHexId() { return Hex(RandomBytes()); }

std::string NewRequestId() {
  // splitmix64 over a per-thread 128-bit state seeded from the CSPRNG.
  thread_local std::array<uint64_t, 2> state = [] {
    std::array<uint8_t, 16> seed = RandomBytes();
    std::array<uint64_t, 2> s{};
    std::memcpy(s.data(), seed.data(), sizeof s);
    return s;
  }();
  auto next = [](uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  std::array<uint8_t, 16> bytes;
  uint64_t a = next(state[0]), b = next(state[1]);
  std::memcpy(bytes.data(), &a, 8);
  std::memcpy(bytes.data() + 8, &b, 8);
  return Hex(bytes);
}

std::string NewUuid() {
  auto bytes = RandomBytes();
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  std::string hex = Hex(bytes);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

}  // namespace ferry
