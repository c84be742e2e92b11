#include "strata/index/postings.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <random>
#include <set>

#include "testing/status_matchers.h"

namespace strata::index {
namespace {

std::unique_ptr<Postings> L(std::vector<SeriesRef> v) {
  return std::make_unique<ListPostings>(std::move(v));
}

std::vector<SeriesRef> Expand(Postings& p) {
  std::vector<SeriesRef> out;
  EXPECT_TRUE(ExpandPostings(p, &out).ok());
  return out;
}

std::vector<SeriesRef> RandomList(std::mt19937_64& rng, int n, SeriesRef max) {
  std::set<SeriesRef> s;
  std::uniform_int_distribution<SeriesRef> d(1, max);
  while (static_cast<int>(s.size()) < n) s.insert(d(rng));
  return {s.begin(), s.end()};
}

TEST(ListPostingsTest, SeekGallopsToFirstRefAtOrAfterTarget) {
  std::vector<SeriesRef> v;
  for (SeriesRef i = 0; i < 1000; ++i) v.push_back(i * 3);
  ListPostings p(v);
  ASSERT_TRUE(p.Seek(10));
  EXPECT_EQ(p.At(), 12u);
  // Never moves backwards.
  ASSERT_TRUE(p.Seek(4));
  EXPECT_EQ(p.At(), 12u);
  ASSERT_TRUE(p.Seek(12));
  EXPECT_EQ(p.At(), 12u);
  ASSERT_TRUE(p.Seek(2000));
  EXPECT_EQ(p.At(), 2001u);
  ASSERT_TRUE(p.Next());
  EXPECT_EQ(p.At(), 2004u);
  ASSERT_TRUE(p.Seek(2997));
  EXPECT_EQ(p.At(), 2997u);
  EXPECT_FALSE(p.Seek(2998));
  EXPECT_FALSE(p.Next());
}

TEST(ListPostingsTest, EveryTargetSeeksLikeLowerBound) {
  std::mt19937_64 rng(7);
  const std::vector<SeriesRef> v = RandomList(rng, 300, 5000);
  for (SeriesRef t = 0; t <= 5001; t += 7) {
    ListPostings p(v);
    auto lb = std::lower_bound(v.begin(), v.end(), t);
    ASSERT_EQ(p.Seek(t), lb != v.end()) << "target " << t;
    if (lb != v.end()) {
      EXPECT_EQ(p.At(), *lb) << "target " << t;
    }
  }
}

TEST(PostingsTest, EmptyInputs) {
  EXPECT_TRUE(IsEmptyPostings(*Intersect({})));
  EXPECT_TRUE(IsEmptyPostings(*Merge({})));
  std::vector<std::unique_ptr<Postings>> its;
  its.push_back(L({1, 2, 3}));
  its.push_back(EmptyPostings());
  EXPECT_TRUE(IsEmptyPostings(*Intersect(std::move(its))));
  auto w = Without(L({1, 2, 3}), EmptyPostings());
  EXPECT_EQ(Expand(*w), (std::vector<SeriesRef>{1, 2, 3}));
}

TEST(PostingsTest, IntersectMergeWithoutMatchSetAlgebra) {
  const uint64_t seed = 20240601;
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 50; ++round) {
    const int k = 1 + static_cast<int>(rng() % 4);
    std::vector<std::vector<SeriesRef>> lists;
    for (int i = 0; i < k; ++i) {
      lists.push_back(RandomList(rng, static_cast<int>(rng() % 200), 400));
    }
    std::vector<SeriesRef> inter = lists[0], uni = lists[0];
    for (int i = 1; i < k; ++i) {
      std::vector<SeriesRef> a, b;
      std::set_intersection(inter.begin(), inter.end(), lists[i].begin(), lists[i].end(),
                            std::back_inserter(a));
      std::set_union(uni.begin(), uni.end(), lists[i].begin(), lists[i].end(),
                     std::back_inserter(b));
      inter = a;
      uni = b;
    }
    std::vector<SeriesRef> diff;
    std::set_difference(lists[0].begin(), lists[0].end(), lists[k - 1].begin(),
                        lists[k - 1].end(), std::back_inserter(diff));

    std::vector<std::unique_ptr<Postings>> a, b;
    for (const auto& l : lists) {
      a.push_back(L(l));
      b.push_back(L(l));
    }
    auto ip = Intersect(std::move(a));
    auto mp = Merge(std::move(b));
    auto wp = Without(L(lists[0]), L(lists[k - 1]));
    EXPECT_EQ(Expand(*ip), inter) << "seed " << seed << " round " << round;
    EXPECT_EQ(Expand(*mp), uni) << "seed " << seed << " round " << round;
    EXPECT_EQ(Expand(*wp), diff) << "seed " << seed << " round " << round;
  }
}

TEST(PostingsTest, SeekOnCombinatorsMatchesLowerBound) {
  std::mt19937_64 rng(99);
  const auto x = RandomList(rng, 150, 500), y = RandomList(rng, 150, 500);
  std::vector<SeriesRef> inter, uni, diff;
  std::set_intersection(x.begin(), x.end(), y.begin(), y.end(), std::back_inserter(inter));
  std::set_union(x.begin(), x.end(), y.begin(), y.end(), std::back_inserter(uni));
  std::set_difference(x.begin(), x.end(), y.begin(), y.end(), std::back_inserter(diff));
  auto mk = [&](int kind) -> std::unique_ptr<Postings> {
    std::vector<std::unique_ptr<Postings>> v;
    v.push_back(L(x));
    v.push_back(L(y));
    if (kind == 0) return Intersect(std::move(v));
    if (kind == 1) return Merge(std::move(v));
    return Without(L(x), L(y));
  };
  const std::vector<SeriesRef>* want[] = {&inter, &uni, &diff};
  for (int kind = 0; kind < 3; ++kind) {
    auto p = mk(kind);
    // Interleave Seek and Next; compare with a cursor over the expected list.
    size_t pos = 0;
    const auto& w = *want[kind];
    for (SeriesRef t = 0; t < 520; t += 13) {
      const bool ok = p->Seek(t);
      while (pos < w.size() && w[pos] < t) ++pos;
      ASSERT_EQ(ok, pos < w.size()) << "kind " << kind << " t " << t;
      if (!ok) break;
      EXPECT_EQ(p->At(), w[pos]) << "kind " << kind << " t " << t;
      if (t % 2 == 0) {
        const bool n = p->Next();
        ++pos;
        ASSERT_EQ(n, pos < w.size());
        if (!n) break;
        EXPECT_EQ(p->At(), w[pos]);
      }
    }
  }
}

TEST(PostingsTest, ErrorsPropagateThroughCombinators) {
  std::vector<std::unique_ptr<Postings>> v;
  v.push_back(L({1, 2, 3}));
  v.push_back(ErrPostings(absl::DataLossError("postings table: bad crc")));
  auto m = Merge(std::move(v));
  EXPECT_FALSE(m->Next());
  EXPECT_EQ(m->status().code(), absl::StatusCode::kDataLoss);

  std::vector<std::unique_ptr<Postings>> v2;
  v2.push_back(L({1, 2, 3}));
  v2.push_back(ErrPostings(absl::DataLossError("x")));
  auto i = Intersect(std::move(v2));
  EXPECT_FALSE(i->Next());
  EXPECT_EQ(i->status().code(), absl::StatusCode::kDataLoss);

  auto w = Without(L({1, 2, 3}), ErrPostings(absl::DataLossError("y")));
  EXPECT_FALSE(w->Next());
  EXPECT_EQ(w->status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace strata::index
