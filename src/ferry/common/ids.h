#ifndef FERRY_COMMON_IDS_H_
#define FERRY_COMMON_IDS_H_

#include <string>

namespace ferry {

// 32 lowercase hex characters from a CSPRNG (OpenSSL RAND_bytes), the shape
// MLflow uses for run ids. Thread-safe.
std::string NewHexId();

// 32 lowercase hex characters for correlation ids (request ids): unique in
// practice but not unguessable, from a per-thread generator seeded by
// RAND_bytes. Much cheaper than NewHexId on the request path. Thread-safe.
std::string NewRequestId();

// A canonical UUID v4 string ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx").
std::string NewUuid();

}  // namespace ferry

#endif  // FERRY_COMMON_IDS_H_
