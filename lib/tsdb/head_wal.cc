#include "strata/tsdb/head_wal.h"

#include <memory>
#include <string_view>
#include <vector>

#include "base/status_macros.h"
#include "strata/base/status.h"
#include "strata/tsdb/wal/checkpoint.h"

namespace strata::tsdb {

absl::Status WalWriterSink::Log(std::span<const record::RefSeries> series,
                                std::span<const record::RefSample> samples) {
  // Per-thread record buffers: a commit's records are copied into the WAL page before Log
  // returns, so they can be reused by the thread's next commit without an allocation (or,
  // for samples, the zero-filling of a resized string).
  constexpr size_t kKeep = size_t{4} << 20;
  thread_local std::string srec;
  thread_local std::unique_ptr<char[]> pbuf;
  thread_local size_t pcap = 0;
  srec.clear();
  std::string_view recs[2];
  size_t n = 0;
  // Series first: replay must know a ref before the samples that use it.
  if (!series.empty()) {
    record::EncodeSeries(series, &srec);
    recs[n++] = srec;
  }
  if (!samples.empty()) {
    const size_t need = record::MaxSamplesRecordSize(samples.size());
    if (pcap < need) {
      pbuf = std::make_unique_for_overwrite<char[]>(need);
      pcap = need;
    }
    recs[n++] = std::string_view(pbuf.get(), record::EncodeSamplesTo(samples, pbuf.get()));
  }
  if (n == 0) return absl::OkStatus();
  absl::Status st = w_->Log(std::span<const std::string_view>(recs, n));
  // A huge batch must not pin its record memory in this thread.
  if (srec.capacity() > kKeep) std::string().swap(srec);
  if (pcap > kKeep) {
    pbuf.reset();
    pcap = 0;
  }
  return st;
}

absl::Status WalWriterSink::LogTombstones(std::span<const record::RefTombstone> stones) {
  std::string rec;
  record::EncodeTombstones(stones, &rec);
  const std::string_view recs[1] = {rec};
  return w_->Log(std::span<const std::string_view>(recs, 1));
}

absl::Status ReplayWal(base::FileSystem& fs, const std::string& dir, Head& head,
                       WalReplayStats* stats) {
  WalReplayStats local;
  WalReplayStats& st = stats != nullptr ? *stats : local;
  std::vector<record::RefSeries> series;
  std::vector<record::RefSample> samples;
  std::vector<record::RefTombstone> stones;
  absl::Status s = wal::Replay(fs, dir, [&](std::string_view rec) -> absl::Status {
    switch (record::GetType(rec)) {
      case record::Type::kSeries:
        series.clear();
        STRATA_RETURN_IF_ERROR(record::DecodeSeries(rec, &series));
        ++st.series_records;
        st.series += series.size();
        return head.ReplaySeries(series);
      case record::Type::kSamples:
        samples.clear();
        STRATA_RETURN_IF_ERROR(record::DecodeSamples(rec, &samples));
        ++st.sample_records;
        st.samples += samples.size();
        return head.ReplaySamples(samples);
      case record::Type::kTombstones:
        stones.clear();
        STRATA_RETURN_IF_ERROR(record::DecodeTombstones(rec, &stones));
        ++st.tombstone_records;
        st.tombstones += stones.size();
        return head.ReplayTombstones(stones);
      default:
        ++st.other_records;
        return absl::OkStatus();
    }
  });
  return base::Annotate(s, "replay WAL " + dir);
}

}  // namespace strata::tsdb
