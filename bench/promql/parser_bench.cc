// PromQL parser throughput on realistic queries (dashboard and alerting-rule shapes):
// parse+typecheck, and print. items/s = queries per second.
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "strata/promql/parser/parser.h"
#include "strata/promql/parser/printer.h"

namespace strata::promql::parser {
namespace {

const std::vector<std::string>& Queries() {
  static const auto* q = new std::vector<std::string>{
      R"(up)",
      R"(up{job="prometheus", instance=~"localhost:90.*"} == 0)",
      R"(rate(http_requests_total{job="api", code=~"5.."}[5m]))",
      R"(sum by (job, instance) (rate(http_requests_total[5m])))",
      R"(sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.05)",
      R"(histogram_quantile(0.99, sum by (le, service) (rate(http_request_duration_seconds_bucket{service!=""}[10m]))))",
      R"(topk(10, sum without (instance) (container_memory_working_set_bytes{namespace="prod"})))",
      R"(100 * (1 - avg by (instance) (irate(node_cpu_seconds_total{mode="idle"}[5m]))))",
      R"(node_filesystem_avail_bytes{fstype!~"tmpfs|overlay"} / node_filesystem_size_bytes < 0.1 and on (instance, device) predict_linear(node_filesystem_avail_bytes[6h], 4 * 3600) < 0)",
      R"(max_over_time(rate(process_cpu_seconds_total[1m])[1h:1m] offset 1d))",
      R"(label_replace(up{job="node"}, "host", "$1", "instance", "(.*):.*"))",
      R"(count_values("version", build_info) by (version))",
      R"(kube_pod_container_status_restarts_total - kube_pod_container_status_restarts_total offset 1h > 3)",
      R"(sum by (namespace) (kube_pod_info) * on (namespace) group_left (team) kube_namespace_labels)",
      R"(absent(up{job="alertmanager"} == 1))",
      R"(quantile_over_time(0.95, probe_duration_seconds{job="blackbox"}[30m] @ end()))",
      R"(increase(errors_total[1h] anchored) + fill (0) increase(retries_total[1h]))",
      R"(sum_over_time(requests_total[5m + step():step()]))",
      R"(clamp_min(delta(queue_length[10m]), 0) unless ignoring (shard) queue_paused)",
      R"(-sum(rate({__name__=~"grpc_.*_handled_total", grpc_code!="OK"}[2m])) by (grpc_service) ^ 2)",
  };
  return *q;
}

void BM_ParseExpr(benchmark::State& state) {
  const auto& qs = Queries();
  size_t bytes = 0;
  for (const auto& q : qs) {
    auto e = ParseExpr(q);  // untimed check that every query is valid
    if (!e.ok()) {
      state.SkipWithError(e.status().ToString().c_str());
      return;
    }
    bytes += q.size();
  }
  for (auto _ : state) {
    for (const auto& q : qs) {
      auto e = ParseExpr(q);
      benchmark::DoNotOptimize(e);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(qs.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
}
BENCHMARK(BM_ParseExpr);

void BM_Print(benchmark::State& state) {
  std::vector<ExprPtr> trees;
  for (const auto& q : Queries()) trees.push_back(*ParseExpr(q));
  for (auto _ : state) {
    for (const auto& t : trees) benchmark::DoNotOptimize(Print(*t));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(trees.size()));
}
BENCHMARK(BM_Print);

void BM_ParseSeriesDesc(benchmark::State& state) {
  const std::string line = R"(http_requests{job="api", instance="0"} 0+10x100 _ stale 5 _x3 1-1x20)";
  for (auto _ : state) benchmark::DoNotOptimize(ParseSeriesDesc(line));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseSeriesDesc);

}  // namespace
}  // namespace strata::promql::parser

BENCHMARK_MAIN();
