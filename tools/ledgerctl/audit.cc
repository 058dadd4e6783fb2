// `ledgerctl audit verify-chain|replay|balance|events`: the auditor's reads (AuditService,
// auditor certificate). A verification that finds damage or a difference exits 2.
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "ledger/event_names.h"
#include "ledger/account.h"
#include "ledger/hash.h"
#include "ledger/money.h"
#include "ledger/strings.h"
#include "tools/ledgerctl/client.h"
#include "tools/ledgerctl/commands.h"

namespace ledgerctl {
namespace {

namespace v1 = ledger::v1;
using ledger::StrCat;
using Stub = v1::AuditService::Stub;

struct Options {
  std::string id, account, date, type, region;
  uint64_t from = 1, to = 0, sequence = 0;
  bool json = false;
};

int PrintChain(const v1::VerifyChainResponse& response) {
  if (!response.ok()) {
    std::fprintf(stderr, "chain verification FAILED at sequence %llu: %s\n",
                 static_cast<unsigned long long>(response.first_bad_sequence()),
                 response.reason().c_str());
    return kExitVerifyFailed;
  }
  std::printf("chain ok from=%llu to=%llu\n",
              static_cast<unsigned long long>(response.from_sequence()),
              static_cast<unsigned long long>(response.to_sequence()));
  return 0;
}

int PrintReplay(const v1::ReplayCompareResponse& response) {
  std::printf(
      "replay equal=%s sequence=%llu events=%llu rows=%llu seconds=%.2f "
      "events_per_s=%.0f\n",
      response.equal() ? "true" : "false", static_cast<unsigned long long>(response.sequence()),
      static_cast<unsigned long long>(response.events_replayed()),
      static_cast<unsigned long long>(response.rows_compared()), response.seconds(),
      response.events_replayed() / std::max(response.seconds(), 1e-9));
  if (!response.equal()) {
    std::fprintf(stderr, "replay FAILED: first difference: %s\n",
                 response.first_difference().c_str());
    return kExitVerifyFailed;
  }
  return 0;
}

// A participant's balance by source, or a ledger account's, recomputed from the log.
int PrintBalanceAsOf(const v1::BalanceAsOfRequest& request,
                     const v1::BalanceAsOfResponse& response) {
  std::string as_of;
  if (request.as_of_sequence() != 0) as_of = StrCat("sequence ", request.as_of_sequence());
  if (!request.as_of_date().empty()) {
    as_of += StrCat(as_of.empty() ? "" : " and ", "effective date ", request.as_of_date());
  }
  if (as_of.empty()) as_of = "the head";
  if (!request.citizen_id().empty()) {
    std::printf("citizen_id          %s\n", request.citizen_id().c_str());
  } else {
    std::printf("ledger account      %s\n", request.ledger_account().c_str());
  }
  std::printf("as of               %s\n", as_of.c_str());
  if (!request.citizen_id().empty()) {
    std::printf("balance by source\n");
    for (const auto& b : response.balances()) {
      std::printf("  %-18s%14s\n", std::string(ledger::SourceName(b.source())).c_str(),
                  ledger::FormatFen(b.amount_fen()).c_str());
    }
  }
  std::printf("total               %s yuan\n", ledger::FormatFen(response.total_fen()).c_str());
  std::printf("events applied      %llu\n",
              static_cast<unsigned long long>(response.events_applied()));
  return 0;
}

// The event types StreamEvents filters on: the snake_case names of EventEnvelope's `event` oneof.
std::vector<std::string> EventTypeNames() {
  std::vector<std::string> names;
  const google::protobuf::OneofDescriptor* oneof =
      v1::EventEnvelope::descriptor()->FindOneofByName("event");
  for (int i = 0; oneof != nullptr && i < oneof->field_count(); ++i) {
    names.push_back(std::string(oneof->field(i)->name()));
  }
  return names;
}

// One line per event: sequence, effective date, type, region, external reference, short hash;
// or, with --json, one JSON object per line (the envelope, hash filled in).
int ListEvents(const Globals& globals, const v1::StreamEventsRequest& request, bool json) {
  Rpc rpc(globals, ledger::kClientStreamDeadlineSeconds);
  auto reader = rpc.Stub<v1::AuditService>()->StreamEvents(rpc.context(), request);
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  v1::AuditEvent event;
  while (reader->Read(&event)) {
    const v1::EventEnvelope& e = event.event();
    if (json) {
      std::string line;
      (void)google::protobuf::util::MessageToJsonString(e, &line, options);
      std::printf("%s\n", line.c_str());
      continue;
    }
    std::printf("%10llu  %-10s  %-32s  %-6s  %-28s  %s\n",
                static_cast<unsigned long long>(e.sequence()), e.effective_date().c_str(),
                ledger::EventTypeName(e).c_str(),
                e.region_code().empty() ? "-" : e.region_code().c_str(),
                e.external_ref().empty() ? "-" : e.external_ref().c_str(),
                ledger::HexEncode(e.hash()).substr(0, 16).c_str());
  }
  if (grpc::Status st = reader->Finish(); !st.ok()) return rpc.Failed(st);
  return 0;
}

void AddChainAndReplay(CLI::App* audit, Commands& commands, std::shared_ptr<Options> o) {
  const Globals& g = commands.globals();
  auto* chain = audit->add_subcommand(
      "verify-chain", "the server re-hashes the log and checks every link (exit 2: a break)");
  AddSequenceRange(chain, o->from, o->to, "to verify");
  commands.On(chain, [&g, o] {
    v1::VerifyChainRequest request;
    request.set_from_sequence(o->from);
    request.set_to_sequence(o->to);
    return CallUnary(g, &Stub::VerifyChain, request, PrintChain,
                     ledger::kClientStreamDeadlineSeconds);  // re-hashes the whole range
  });
  auto* replay = audit->add_subcommand(
      "replay",
      "rebuild every projection from the log and compare with the live ones (exit 2: "
      "they differ)");
  commands.On(replay, [&g] {
    return CallUnary(g, &Stub::ReplayCompare, v1::ReplayCompareRequest(), PrintReplay,
                     ledger::kClientStreamDeadlineSeconds);  // rebuilds every projection
  });
}

void AddBalanceAndEvents(CLI::App* audit, Commands& commands, std::shared_ptr<Options> o) {
  const Globals& g = commands.globals();
  auto* balance = audit->add_subcommand(
      "balance",
      "a participant's or ledger account's balance recomputed from the log, as of a "
      "sequence or an effective date");
  auto* whose = balance->add_option_group("whose", "one of --id and --account");
  whose->add_option("--id", o->id, "18-character citizen ID");
  whose->add_option("--account", o->account,
                    "ledger account REGION/ACCOUNT, e.g. "
                    "222401/fund.special");
  whose->require_option(1);
  balance->add_option("--as-of-sequence", o->sequence, "last sequence to include");
  balance->add_option("--as-of-date", o->date, "last effective date to include, YYYY-MM-DD");
  commands.On(balance, [&g, o] {
    v1::BalanceAsOfRequest r;
    r.set_citizen_id(o->id);
    r.set_ledger_account(o->account);
    r.set_as_of_sequence(o->sequence);
    r.set_as_of_date(o->date);
    return CallUnary(g, &Stub::BalanceAsOf, r, [&r](const v1::BalanceAsOfResponse& response) {
      return PrintBalanceAsOf(r, response);
    });
  });
  auto* events = audit->add_subcommand(
      "events", "list events: sequence, effective date, type, region, reference, short hash");
  AddSequenceRange(events, o->from, o->to, "to list");
  events->add_option("--id", o->id, "only this participant's events");
  events->add_option("--type", o->type, "only this event type (snake_case)")
      ->check(CLI::IsMember(EventTypeNames()));
  events->add_option("--region", o->region, "only this region's events");
  events->add_flag("--json", o->json, "one JSON object per line");
  commands.On(events, [&g, o] {
    v1::StreamEventsRequest r;
    r.set_from_sequence(o->from);
    r.set_to_sequence(o->to);
    r.set_citizen_id(o->id);
    r.set_event_type(o->type);
    r.set_region_code(o->region);
    return ListEvents(g, r, o->json);
  });
}

}  // namespace

void RegisterAuditCommands(CLI::App& app, Commands& commands) {
  auto o = std::make_shared<Options>();
  auto* audit = app.add_subcommand("audit", "the auditor's reads (AuditService)");
  audit->require_subcommand(1);
  AddChainAndReplay(audit, commands, o);
  AddBalanceAndEvents(audit, commands, o);
}

}  // namespace ledgerctl
