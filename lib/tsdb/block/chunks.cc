#include "strata/tsdb/block/chunks.h"

#include "base/coding.h"
#include "base/crc32c.h"
#include "base/status_macros.h"
#include "fmt/format.h"

namespace strata::tsdb::block {
namespace {

// Prometheus sizes a batch with the largest length field it allows (binary.MaxVarintLen32),
// so cutting decisions match its files.
constexpr uint64_t kMaxChunkLengthFieldSize = 5;

std::string Header() {
  std::string h;
  base::PutBE32(&h, kChunksMagic);
  h.push_back(static_cast<char>(kChunksFormatV1));
  h.append(3, '\0');
  return h;
}

}  // namespace

std::string SegmentFileName(uint32_t index) { return fmt::format("{:06d}", index + 1); }

struct ChunkWriter::Impl {
  base::FileSystem* fs = nullptr;
  std::string dir;
  uint64_t segment_size = 0;
  std::unique_ptr<base::WritableFile> file;
  int64_t seq = -1;  // 0-based position of the current file
  uint64_t n = 0;    // bytes in the current file
  bool closed = false;

  absl::Status FinishFile() {
    if (file == nullptr) return absl::OkStatus();
    STRATA_RETURN_IF_ERROR(file->Sync());
    STRATA_RETURN_IF_ERROR(file->Close());
    file.reset();
    return absl::OkStatus();
  }
  absl::Status Cut() {
    STRATA_RETURN_IF_ERROR(FinishFile());
    ++seq;
    STRATA_ASSIGN_OR_RETURN(
        file, fs->OpenWritable(base::JoinPath(dir, SegmentFileName(static_cast<uint32_t>(seq)))));
    STRATA_RETURN_IF_ERROR(file->Append(Header()));
    n = kChunksHeaderSize;
    return absl::OkStatus();
  }
};

ChunkWriter::ChunkWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ChunkWriter::~ChunkWriter() {
  if (!impl_->closed) (void)Close();
}

absl::StatusOr<std::unique_ptr<ChunkWriter>> ChunkWriter::Create(base::FileSystem& fs,
                                                                 std::string dir,
                                                                 uint64_t segment_size) {
  if (segment_size < kChunksHeaderSize + 64) {
    return absl::InvalidArgumentError(
        fmt::format("chunks {}: segment size {} is too small", dir, segment_size));
  }
  STRATA_RETURN_IF_ERROR(fs.CreateDirs(dir));
  auto impl = std::make_unique<Impl>();
  impl->fs = &fs;
  impl->dir = std::move(dir);
  impl->segment_size = segment_size;
  return std::unique_ptr<ChunkWriter>(new ChunkWriter(std::move(impl)));
}

absl::Status ChunkWriter::WriteChunks(std::span<const ChunkData> chunks,
                                      std::vector<uint64_t>* refs) {
  Impl& w = *impl_;
  if (w.closed) {
    return absl::FailedPreconditionError(fmt::format("chunks {}: writer is closed", w.dir));
  }
  refs->assign(chunks.size(), 0);
  uint64_t batch = 0;
  for (const auto& c : chunks) batch += kMaxChunkLengthFieldSize + 1 + c.data.size() + 4;
  // A new file when there is none yet, or when the series' chunks would not fit in the
  // current one and it already holds data (a file never stays empty).
  if (w.file == nullptr || (w.n > kChunksHeaderSize && w.n + batch > w.segment_size)) {
    STRATA_RETURN_IF_ERROR(w.Cut());
  }
  std::string buf;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const ChunkData& c = chunks[i];
    const uint64_t size = base::UvarintSize(c.data.size()) + 1 + c.data.size() + 4;
    if (kChunksHeaderSize + size > w.segment_size) {
      return absl::ResourceExhaustedError(fmt::format(
          "chunks {}: chunk of {} bytes exceeds the segment size {}", w.dir, size,
          w.segment_size));
    }
    if (w.n + buf.size() + size > w.segment_size) {
      // A single series larger than what is left: continue in a new file.
      STRATA_RETURN_IF_ERROR(w.file->Append(buf));
      buf.clear();
      STRATA_RETURN_IF_ERROR(w.Cut());
    }
    (*refs)[i] = (static_cast<uint64_t>(w.seq) << 32) | (w.n + buf.size());
    base::PutUvarint(&buf, c.data.size());
    const size_t crc_start = buf.size();
    buf.push_back(static_cast<char>(c.encoding));
    buf.append(c.data);
    base::PutBE32(&buf, base::Crc32c(std::string_view(buf).substr(crc_start)));
  }
  const uint64_t len = buf.size();
  STRATA_RETURN_IF_ERROR(w.file->Append(buf));
  w.n += len;
  return absl::OkStatus();
}

absl::Status ChunkWriter::Close() {
  Impl& w = *impl_;
  if (w.closed) {
    return absl::FailedPreconditionError(fmt::format("chunks {}: already closed", w.dir));
  }
  w.closed = true;
  return w.FinishFile();
}

struct ChunkReader::Impl {
  std::vector<std::unique_ptr<base::MappedFile>> mapped;
  std::vector<std::string_view> segments;
  std::vector<std::string> names;
  uint64_t total = 0;

  absl::Status CheckHeaders() {
    for (size_t i = 0; i < segments.size(); ++i) {
      const std::string_view s = segments[i];
      if (s.size() < kChunksHeaderSize) {
        return absl::DataLossError(fmt::format("chunks {}: file too short for its header ({} bytes)",
                                               names[i], s.size()));
      }
      if (base::LoadBE32(s.data()) != kChunksMagic) {
        return absl::DataLossError(
            fmt::format("chunks {}: bad magic number at offset 0", names[i]));
      }
      if (static_cast<uint8_t>(s[4]) != kChunksFormatV1) {
        return absl::DataLossError(fmt::format(
            "chunks {}: unsupported format version {} at offset 4", names[i],
            static_cast<int>(static_cast<uint8_t>(s[4]))));
      }
      total += s.size();
    }
    return absl::OkStatus();
  }
};

ChunkReader::ChunkReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ChunkReader::~ChunkReader() = default;

absl::StatusOr<std::unique_ptr<ChunkReader>> ChunkReader::Open(base::FileSystem& fs,
                                                               const std::string& dir) {
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> entries, fs.ListDir(dir));
  auto impl = std::make_unique<Impl>();
  for (const auto& e : entries) {
    if (e.size() != 6 || e.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string want = SegmentFileName(static_cast<uint32_t>(impl->segments.size()));
    const std::string path = base::JoinPath(dir, e);
    if (e != want) {
      return absl::DataLossError(
          fmt::format("chunks {}: unexpected segment file, want {}", path, want));
    }
    STRATA_ASSIGN_OR_RETURN(auto m, fs.MapReadOnly(path));
    impl->segments.push_back(m->data());
    impl->mapped.push_back(std::move(m));
    impl->names.push_back(path);
  }
  STRATA_RETURN_IF_ERROR(impl->CheckHeaders());
  return std::unique_ptr<ChunkReader>(new ChunkReader(std::move(impl)));
}

absl::StatusOr<std::unique_ptr<ChunkReader>> ChunkReader::FromBytes(
    std::vector<std::string_view> segments, std::vector<std::string> names) {
  auto impl = std::make_unique<Impl>();
  impl->segments = std::move(segments);
  impl->names = std::move(names);
  impl->names.resize(impl->segments.size());
  STRATA_RETURN_IF_ERROR(impl->CheckHeaders());
  return std::unique_ptr<ChunkReader>(new ChunkReader(std::move(impl)));
}

uint64_t ChunkReader::size() const { return impl_->total; }
size_t ChunkReader::num_segments() const { return impl_->segments.size(); }

absl::StatusOr<ChunkData> ChunkReader::Chunk(uint64_t ref) const {
  const uint64_t seq = ref >> 32;
  const uint64_t off = ref & 0xFFFFFFFFu;
  if (seq >= impl_->segments.size()) {
    return absl::DataLossError(fmt::format(
        "chunks: reference {:#x} names segment file {} but the block has {}", ref, seq + 1,
        impl_->segments.size()));
  }
  const std::string_view s = impl_->segments[seq];
  const std::string& name = impl_->names[seq];
  if (off < kChunksHeaderSize || off >= s.size()) {
    return absl::DataLossError(
        fmt::format("chunks {}: chunk offset {} outside the file ({} bytes)", name, off, s.size()));
  }
  base::Decoder d(s.substr(off));
  const uint64_t len = d.Uvarint();
  if (!d.ok() || d.remaining() < 5 || len > d.remaining() - 5) {
    return absl::DataLossError(
        fmt::format("chunks {}: chunk at offset {} truncated", name, off));
  }
  const std::string_view enc_data = d.Bytes(len + 1);
  const uint32_t want = d.BE32();
  if (base::Crc32c(enc_data) != want) {
    return absl::DataLossError(
        fmt::format("chunks {}: crc mismatch in chunk at offset {}", name, off));
  }
  return ChunkData{static_cast<chunkenc::Encoding>(enc_data[0]), enc_data.substr(1)};
}

}  // namespace strata::tsdb::block
