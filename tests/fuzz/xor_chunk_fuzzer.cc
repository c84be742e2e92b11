// Fuzz target for the XOR chunk codec: arbitrary bytes as a chunk.
//
// Iterates with Next (and, on a second iterator, with Seek to timestamps taken from the
// input), checking the protocol: no crash or out-of-bounds read, at most num_samples()
// samples, errors only as DataLoss, Seek results never move backwards. Next must also agree
// with the bit-at-a-time model of upstream's reader (tests/chunkenc/xor_reference.h): the
// same samples, and a failure at the same sample and byte offset. When the bytes decode
// cleanly, resumes an appender over them in both byte modes, appends samples, and checks that
// the result decodes to the old samples followed by the new ones.
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "chunkenc/xor_reference.h"
#include "strata/chunkenc/xor.h"

namespace {

using strata::chunkenc::XorAppender;
using strata::chunkenc::XorIterator;
using strata::chunkenc::XorOptions;
using strata::model::Sample;

void Check(bool cond) {
  if (!cond) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view chunk(reinterpret_cast<const char*>(data), size);

  std::vector<Sample> samples;
  XorIterator it(chunk);
  while (it.Next()) samples.push_back(it.At());
  Check(samples.size() <= static_cast<size_t>(it.num_samples()));
  const bool clean = it.status().ok();
  Check(clean || it.status().code() == absl::StatusCode::kDataLoss);
  Check(!it.Next());

  const auto ref = strata::chunkenc::testing::RefXorDecode(chunk);
  Check(samples == ref.samples);
  Check(clean == (ref.failed_sample < 0));
  if (!clean && size >= 2) {
    const std::string where = "sample " + std::to_string(ref.failed_sample) + " of " +
                              std::to_string(ref.total) + " at byte offset " +
                              std::to_string(2 + ref.failed_bit / 8) + ":";
    Check(it.status().message().find(where) != std::string::npos);
  }

  // Seek to a few targets derived from the input; results are non-decreasing and agree with
  // the samples Next produced.
  XorIterator sk(chunk);
  size_t idx = 0;
  for (size_t i = 0; i + 8 <= size && i < 64; i += 8) {
    int64_t target;
    std::memcpy(&target, data + i, 8);
    if (i == 0 && !samples.empty()) target = samples[samples.size() / 2].t;
    if (!sk.Seek(target)) break;
    const Sample s = sk.At();
    Check(s.t >= target);
    // The position only moves forward: s is the sample at idx or a later one.
    while (idx < samples.size() && !(samples[idx] == s)) ++idx;
    Check(idx < samples.size());
  }
  Check(sk.status().ok() || sk.status().code() == absl::StatusCode::kDataLoss);

  if (!clean || samples.size() > 1000) return 0;
  for (bool v242 : {false, true}) {
    std::string buf(chunk);
    auto app = XorAppender::Resume(&buf, XorOptions{.prometheus_2_42 = v242});
    if (!app.ok()) {
      Check(app.status().code() == absl::StatusCode::kDataLoss);
      continue;
    }
    std::vector<Sample> want = samples;
    int64_t t = samples.empty() ? 0 : samples.back().t;
    uint64_t vb = samples.empty() ? 0 : std::bit_cast<uint64_t>(samples.back().v);
    for (int i = 0; i < 5 && want.size() < 65535; ++i) {
      // Wrapping like the codec's deltas (the decoded chunk may end at any timestamp).
      t = static_cast<int64_t>(static_cast<uint64_t>(t) + 15000 + static_cast<uint64_t>(i));
      vb ^= uint64_t{0x5bd1e995} << (i * 7);
      want.push_back({t, std::bit_cast<double>(vb)});
      app->Append(t, std::bit_cast<double>(vb));
    }
    XorIterator again(buf);
    size_t n = 0;
    while (again.Next()) {
      Check(n < want.size() && again.At() == want[n]);
      ++n;
    }
    Check(again.status().ok() && n == want.size());
  }
  return 0;
}
