// ledger-bench's concurrent callers: `in_flight` unary calls kept going at once on gRPC's callback
// API, each started from the completion of the one before it on gRPC's own threads. No thread per
// caller: with the server embedded in the same process on two cores, 64 client threads took the
// cores from the server being measured.
#ifndef TOOLS_LEDGER_BENCH_IN_FLIGHT_H_
#define TOOLS_LEDGER_BENCH_IN_FLIGHT_H_

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "ledger/strings.h"
#include "tools/ledger_bench/bench.h"

namespace bench {

// Runs calls 0 … calls - 1, `in_flight` at a time, and returns each one's latency in µs (from
// its start to its completion), in call order. `fill(i, request)` makes call i's request;
// `start(i, context, request, response, done)` starts it on the callback API, e.g.
// `stub->async()->GetAccount(context, request, response, std::move(done))`. A call that fails
// ends the process, naming `what`.
template <typename Request, typename Response, typename Fill, typename Start>
std::vector<double> InFlight(int in_flight, size_t calls, const Fill& fill, const Start& start,
                             const std::string& what) {
  struct Slot {
    std::unique_ptr<grpc::ClientContext> context;
    Request request;
    Response response;
    size_t i = 0;
    Clock::time_point start;
  };
  std::vector<double> us(calls);
  std::vector<Slot> slots(std::min<size_t>(std::max(1, in_flight), calls));
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::condition_variable idle;
  size_t running = slots.size();  // guarded by mu

  // The slot's next call, or the slot retires when none is left.
  std::function<void(Slot&)> launch = [&](Slot& slot) {
    slot.i = next.fetch_add(1);
    if (slot.i >= calls) {
      std::lock_guard lock(mu);
      if (--running == 0) idle.notify_all();
      return;
    }
    // A context serves one call; the previous one's is done (its callback holds the call).
    slot.context = std::make_unique<grpc::ClientContext>();
    slot.request.Clear();
    slot.response.Clear();
    fill(slot.i, &slot.request);
    slot.start = Clock::now();
    start(slot.i, slot.context.get(), &slot.request, &slot.response, [&](grpc::Status status) {
      if (!status.ok()) Die(ledger::StrCat(what, ": ", status.error_message()));
      us[slot.i] = Seconds(slot.start) * 1e6;
      launch(slot);
    });
  };
  for (Slot& slot : slots) launch(slot);
  std::unique_lock lock(mu);
  idle.wait(lock, [&] { return running == 0; });
  return us;
}

// One stub per channel (Bench::Callers), for InFlight's calls to share round robin.
template <typename Service>
std::vector<std::unique_ptr<typename Service::Stub>> StubsOf(
    const std::vector<std::shared_ptr<grpc::Channel>>& channels) {
  std::vector<std::unique_ptr<typename Service::Stub>> stubs;
  for (const auto& channel : channels) stubs.push_back(Service::NewStub(channel));
  return stubs;
}

}  // namespace bench

#endif  // TOOLS_LEDGER_BENCH_IN_FLIGHT_H_
