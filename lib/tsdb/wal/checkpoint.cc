#include "strata/tsdb/wal/checkpoint.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "strata/base/status.h"
#include "strata/tsdb/record/record.h"
#include "strata/tsdb/wal/writer.h"

namespace strata::tsdb::wal {
namespace {

constexpr std::string_view kTmpSuffix = ".tmp";
// Prometheus flushes re-encoded records to the checkpoint in ~1 MiB batches.
constexpr size_t kFlushBytes = size_t{1} << 20;

bool HasPrefix(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool HasSuffix(std::string_view s, std::string_view x) {
  return s.size() >= x.size() && s.substr(s.size() - x.size()) == x;
}

// Checkpoint directories of `dir` by index, ascending.
absl::StatusOr<std::vector<CheckpointRef>> ListCheckpoints(base::FileSystem& fs,
                                                           const std::string& dir) {
  auto names = fs.ListDir(dir);
  if (!names.ok()) return names.status();
  std::vector<CheckpointRef> refs;
  for (const std::string& name : *names) {
    if (!HasPrefix(name, kCheckpointPrefix)) continue;
    const std::string_view digits = std::string_view(name).substr(kCheckpointPrefix.size());
    int index = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) continue;
    const std::string path = base::JoinPath(dir, name);
    auto is_dir = fs.IsDirectory(path);
    if (!is_dir.ok()) return is_dir.status();
    if (!*is_dir) {
      return absl::FailedPreconditionError(
          absl::StrCat("checkpoint ", path, " is not a directory"));
    }
    refs.push_back(CheckpointRef{path, index});
  }
  std::sort(refs.begin(), refs.end(),
            [](const CheckpointRef& a, const CheckpointRef& b) { return a.index < b.index; });
  return refs;
}

}  // namespace

std::string CheckpointDir(std::string_view dir, int index) {
  return base::JoinPath(dir, absl::StrFormat("%s%08d", base::ToAbsl(kCheckpointPrefix), index));
}

absl::StatusOr<CheckpointRef> LastCheckpoint(base::FileSystem& fs, const std::string& dir) {
  auto refs = ListCheckpoints(fs, dir);
  if (!refs.ok()) return refs.status();
  if (refs->empty()) return absl::NotFoundError(absl::StrCat("no checkpoint in ", dir));
  return refs->back();
}

absl::Status DeleteCheckpoints(base::FileSystem& fs, const std::string& dir, int max_index) {
  auto refs = ListCheckpoints(fs, dir);
  if (!refs.ok()) return refs.status();
  for (const CheckpointRef& r : *refs) {
    if (r.index >= max_index) break;
    absl::Status s = fs.RemoveAll(r.path);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status DeleteTempCheckpoints(base::FileSystem& fs, const std::string& dir) {
  auto names = fs.ListDir(dir);
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    if (HasPrefix(name, kCheckpointPrefix) && HasSuffix(name, kTmpSuffix)) {
      absl::Status s = fs.RemoveAll(base::JoinPath(dir, name));
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CheckpointStats> Checkpoint(base::FileSystem& fs, const std::string& dir, int from,
                                           int to,
                                           const std::function<bool(model::SeriesRef)>& keep,
                                           int64_t mint, Compression compression) {
  std::vector<SegmentRange> ranges;
  auto last = LastCheckpoint(fs, dir);
  if (last.ok()) {
    if (from > last->index + 1) {
      return absl::FailedPreconditionError(
          absl::StrCat("checkpoint ", dir, ": gap after checkpoint ", last->index,
                       ": requested segments from ", from));
    }
    // Segments below the checkpoint are already in it (they should not exist any more).
    from = last->index + 1;
    ranges.push_back(SegmentRange{last->path, -1, -1});
  } else if (last.status().code() != absl::StatusCode::kNotFound) {
    return last.status();
  }
  ranges.push_back(SegmentRange{dir, from, to});
  auto reader = Reader::Open(std::move(ranges), ReaderOptions{&fs});
  if (!reader.ok()) return reader.status();

  absl::Status s = DeleteTempCheckpoints(fs, dir);
  if (!s.ok()) return s;
  const std::string cpdir = CheckpointDir(dir, to);
  const std::string tmp = cpdir + std::string(kTmpSuffix);

  CheckpointStats stats;
  s = [&]() -> absl::Status {
    WriterOptions wopts;
    wopts.fs = &fs;
    wopts.compression = compression;
    auto cp = Writer::Open(tmp, wopts);
    if (!cp.ok()) return cp.status();

    std::vector<record::RefSeries> series;
    std::vector<record::RefSample> samples;
    std::vector<record::RefTombstone> tstones;
    std::vector<record::RefExemplar> exemplars;
    std::vector<record::RefMetadata> metadata;
    std::vector<record::RefHistogramSample> histograms;
    std::vector<record::RefFloatHistogramSample> float_histograms;
    std::map<model::SeriesRef, record::RefMetadata> latest_metadata;  // sorted: stable output
    std::string buf;
    std::vector<size_t> ends;  // end offset in buf of each batched record

    auto flush = [&]() -> absl::Status {
      std::vector<std::string_view> recs;
      size_t begin = 0;
      for (size_t end : ends) {
        recs.emplace_back(buf.data() + begin, end - begin);
        begin = end;
      }
      absl::Status st = recs.empty() ? absl::OkStatus() : (*cp)->Log(recs);
      buf.clear();
      ends.clear();
      return st;
    };

    Reader& r = **reader;
    while (r.Next()) {
      const std::string_view rec = r.record();
      const size_t start = buf.size();
      absl::Status st;
      switch (record::GetType(rec)) {
        case record::Type::kSeries: {
          series.clear();
          st = record::DecodeSeries(rec, &series);
          if (!st.ok()) break;
          const size_t n = series.size();
          std::erase_if(series, [&](const record::RefSeries& x) { return !keep(x.ref); });
          stats.total_series += static_cast<int64_t>(n);
          stats.dropped_series += static_cast<int64_t>(n - series.size());
          if (!series.empty()) record::EncodeSeries(series, &buf);
          break;
        }
        case record::Type::kSamples: {
          samples.clear();
          st = record::DecodeSamples(rec, &samples);
          if (!st.ok()) break;
          const size_t n = samples.size();
          std::erase_if(samples, [&](const record::RefSample& x) { return x.t < mint; });
          stats.total_samples += static_cast<int64_t>(n);
          stats.dropped_samples += static_cast<int64_t>(n - samples.size());
          if (!samples.empty()) record::EncodeSamples(samples, &buf);
          break;
        }
        case record::Type::kTombstones: {
          tstones.clear();
          st = record::DecodeTombstones(rec, &tstones);
          if (!st.ok()) break;
          const size_t n = tstones.size();
          std::erase_if(tstones, [&](const record::RefTombstone& x) { return x.maxt < mint; });
          stats.total_tombstones += static_cast<int64_t>(n);
          stats.dropped_tombstones += static_cast<int64_t>(n - tstones.size());
          if (!tstones.empty()) record::EncodeTombstones(tstones, &buf);
          break;
        }
        case record::Type::kExemplars: {
          exemplars.clear();
          st = record::DecodeExemplars(rec, &exemplars);
          if (!st.ok()) break;
          const size_t n = exemplars.size();
          std::erase_if(exemplars, [&](const record::RefExemplar& x) { return x.t < mint; });
          stats.total_exemplars += static_cast<int64_t>(n);
          stats.dropped_exemplars += static_cast<int64_t>(n - exemplars.size());
          if (!exemplars.empty()) record::EncodeExemplars(exemplars, &buf);
          break;
        }
        case record::Type::kMetadata: {
          metadata.clear();
          st = record::DecodeMetadata(rec, &metadata);
          if (!st.ok()) break;
          int64_t kept_new = 0;
          for (record::RefMetadata& m : metadata) {
            if (!keep(m.ref)) continue;
            auto [it, inserted] = latest_metadata.try_emplace(m.ref);
            if (inserted) ++kept_new;
            it->second = std::move(m);
          }
          stats.total_metadata += static_cast<int64_t>(metadata.size());
          stats.dropped_metadata += static_cast<int64_t>(metadata.size()) - kept_new;
          break;
        }
        case record::Type::kHistogramSamples: {
          histograms.clear();
          st = record::DecodeHistogramSamples(rec, &histograms);
          if (!st.ok()) break;
          const size_t n = histograms.size();
          std::erase_if(histograms,
                        [&](const record::RefHistogramSample& x) { return x.t < mint; });
          stats.total_samples += static_cast<int64_t>(n);
          stats.dropped_samples += static_cast<int64_t>(n - histograms.size());
          if (!histograms.empty()) record::EncodeHistogramSamples(histograms, &buf);
          break;
        }
        case record::Type::kFloatHistogramSamples: {
          float_histograms.clear();
          st = record::DecodeFloatHistogramSamples(rec, &float_histograms);
          if (!st.ok()) break;
          const size_t n = float_histograms.size();
          std::erase_if(float_histograms,
                        [&](const record::RefFloatHistogramSample& x) { return x.t < mint; });
          stats.total_samples += static_cast<int64_t>(n);
          stats.dropped_samples += static_cast<int64_t>(n - float_histograms.size());
          if (!float_histograms.empty()) {
            record::EncodeFloatHistogramSamples(float_histograms, &buf);
          }
          break;
        }
        default:
          ++stats.dropped_unknown_records;  // probably from a newer Prometheus
          break;
      }
      if (!st.ok()) {
        return base::Annotate(
            st, absl::StrCat("checkpoint: segment ", r.segment_path(), " record at offset ",
                             r.offset()));
      }
      if (buf.size() > start) ends.push_back(buf.size());
      if (buf.size() > kFlushBytes) {
        st = flush();
        if (!st.ok()) return st;
      }
    }
    // Corruption here cannot be repaired: the head would not know which series it lost.
    if (!r.status().ok()) return base::Annotate(r.status(), "checkpoint: read segments");
    absl::Status st = flush();
    if (!st.ok()) return st;
    if (!latest_metadata.empty()) {
      metadata.clear();
      for (auto& [ref, m] : latest_metadata) metadata.push_back(std::move(m));
      record::EncodeMetadata(metadata, &buf);
      ends.push_back(buf.size());
      st = flush();
      if (!st.ok()) return st;
    }
    st = (*cp)->Close();
    if (!st.ok()) return st;
    st = fs.SyncDir(tmp);
    if (!st.ok()) return st;
    // Like Prometheus's fileutil.Replace: an existing checkpoint of the same index goes.
    st = fs.RemoveAll(cpdir);
    if (!st.ok()) return st;
    st = fs.Rename(tmp, cpdir);
    if (!st.ok()) return st;
    return fs.SyncDir(dir);
  }();
  if (!s.ok()) {
    (void)fs.RemoveAll(tmp);
    return s;
  }
  s = DeleteCheckpoints(fs, dir, to);
  if (!s.ok()) return base::Annotate(s, "checkpoint: delete older checkpoints");
  return stats;
}

absl::StatusOr<std::vector<SegmentRange>> ReplayRanges(base::FileSystem& fs,
                                                       const std::string& dir) {
  std::vector<SegmentRange> ranges;
  auto last = LastCheckpoint(fs, dir);
  if (last.ok()) {
    ranges.push_back(SegmentRange{last->path, -1, -1});
    ranges.push_back(SegmentRange{dir, last->index + 1, -1});
  } else if (last.status().code() == absl::StatusCode::kNotFound) {
    ranges.push_back(SegmentRange{dir, -1, -1});
  } else {
    return last.status();
  }
  return ranges;
}

absl::Status Replay(base::FileSystem& fs, const std::string& dir,
                    const std::function<absl::Status(std::string_view record)>& fn) {
  auto ranges = ReplayRanges(fs, dir);
  if (!ranges.ok()) return ranges.status();
  auto reader = Reader::Open(std::move(*ranges), ReaderOptions{&fs});
  if (!reader.ok()) return reader.status();
  while ((*reader)->Next()) {
    absl::Status s = fn((*reader)->record());
    if (!s.ok()) return s;
  }
  return (*reader)->status();
}

}  // namespace strata::tsdb::wal
