// Fuzz target: the index file reader (strata/index/index_reader.h) must turn any input into
// either a reader or a DataLoss status, and every lookup on an opened reader must either
// succeed or fail cleanly, never read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "strata/index/index_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto r = strata::index::IndexReader::FromBytes(bytes, "fuzz");
  if (!r.ok()) return 0;
  const auto& ix = **r;
  for (uint32_t i = 0; i < 4; ++i) (void)ix.LookupSymbol(i);
  for (const auto& name : ix.LabelNames()) {
    for (const auto& value : ix.LabelValues(name)) {
      auto p = ix.PostingsFor(name, value);
      if (!p.ok()) continue;
      while ((*p)->Next()) (void)(*p)->At();
    }
  }
  auto all = ix.AllPostings();
  if (!all.ok()) return 0;
  strata::model::Labels lset;
  std::vector<strata::index::ChunkMeta> chunks;
  for (int n = 0; n < 1000 && (*all)->Next(); ++n) {
    (void)ix.Series((*all)->At(), &lset, &chunks);
  }
  (*all)->Seek(1u << 20);
  return 0;
}
