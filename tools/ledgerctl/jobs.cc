// `ledgerctl job run`: a region's batch job (government subsidy, interest, benefits), run to
// completion through AccountService's RunJob stream (fund-agency certificate).
#include <google/protobuf/util/message_differencer.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "ledger/money.h"
#include "tools/ledgerctl/client.h"
#include "tools/ledgerctl/commands.h"

namespace ledgerctl {
namespace {

namespace v1 = ledger::v1;

const std::map<std::string, v1::JobKind>& JobKinds() {
  static const auto* kMap = new std::map<std::string, v1::JobKind>{
      {"government_subsidy", v1::JOB_KIND_GOVERNMENT_SUBSIDY},
      {"interest", v1::JOB_KIND_INTEREST},
      {"benefits", v1::JOB_KIND_BENEFITS}};
  return *kMap;
}

// Runs a region's batch job to completion. Progress (one line per streamed JobProgress) goes to
// stderr, like import's; the final summary line goes to stdout.
int RunJob(const Globals& globals, const std::string& kind_name, const v1::JobRequest& request) {
  // A job is many commits; it gets the bulk deadline, not the unary one.
  Rpc rpc(globals, ledger::kClientStreamDeadlineSeconds);
  const auto start = std::chrono::steady_clock::now();
  auto reader = rpc.Stub<v1::AccountService>()->RunJob(rpc.context(), request);
  v1::JobProgress progress, last;
  bool any = false;
  while (reader->Read(&progress)) {
    // The server repeats the last chunk's progress as its final message: print it once.
    if (any && google::protobuf::util::MessageDifferencer::Equals(progress, last)) continue;
    std::fprintf(stderr, "accounts_scanned=%llu accounts_credited=%llu events=%llu total=%s\n",
                 static_cast<unsigned long long>(progress.accounts_scanned()),
                 static_cast<unsigned long long>(progress.accounts_credited()),
                 static_cast<unsigned long long>(progress.events()),
                 ledger::FormatFen(progress.total_fen()).c_str());
    last = progress;
    any = true;
  }
  if (grpc::Status st = reader->Finish(); !st.ok()) return rpc.Failed(st);
  if (!any || !last.completed()) {
    return Fail(
        "the server ended the job stream without reporting completion; re-run the job "
        "(it resumes where it stopped)");
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "job=%s region=%s period=%d completed=true accounts_credited=%llu total=%s "
      "seconds=%.2f\n",
      kind_name.c_str(), request.region_code().c_str(), request.period(),
      static_cast<unsigned long long>(last.accounts_credited()),
      ledger::FormatFen(last.total_fen()).c_str(), seconds);
  return 0;
}

}  // namespace

void RegisterJobCommands(CLI::App& app, Commands& commands) {
  struct Options {
    std::string kind, region, date;
    int period = 0;
  };
  auto o = std::make_shared<Options>();
  auto* job = app.add_subcommand("job", "region-wide batch jobs");
  job->require_subcommand(1);
  auto* run = job->add_subcommand(
      "run", "run a job to completion (resumable; a completed period is not run twice)");
  run->add_option("--kind", o->kind, "which job")
      ->required()
      ->check(CLI::IsMember(Names(JobKinds())));
  run->add_option("--region", o->region, "6-digit region code")->required();
  run->add_option("--period", o->period, "YEAR (government_subsidy, interest) or YYYYMM (benefits)")
      ->required();
  run->add_option("--date", o->date, "date the money moves (default today; interest: 31 Dec)");
  commands.On(run, [&g = commands.globals(), o] {
    v1::JobRequest r;
    r.set_kind(JobKinds().at(o->kind));
    r.set_region_code(o->region);
    r.set_period(o->period);
    r.set_date(o->date);
    return RunJob(g, o->kind, r);
  });
}

}  // namespace ledgerctl
