// ledgerctl: the operator's command line for the pension ledger.
//
// Exit codes: 0 success; 1 error (connection, file, rejected command); 2 a verification found
// damage or a difference (export, chain, replay); 3 an import finished but some rows were
// rejected (each is printed with its line number).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include "CLI/CLI.hpp"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "ledger/account.h"
#include "ledger/apply.h"
#include "ledger/audit.h"
#include "ledger/citizen_id.h"
#include "ledger/hash.h"
#include "ledger/ledger.h"
#include "ledger/limits.h"
#include "ledger/money.h"
#include "ledger/policy.h"
#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "services/services.h"
#include "tools/collection_csv.h"
#include "tools/recon_report.h"

namespace {

namespace v1 = ledger::v1;
using ledger::StrCat;

constexpr int kExitError = 1;
constexpr int kExitVerifyFailed = 2;
constexpr int kExitRowsRejected = 3;
// How many rejected rows an import prints before summarising the rest.
constexpr size_t kRejectedRowsPrintedMax = 100;

// How to reach the server: mutual TLS when --ca/--cert/--key are given, else plain text.
struct Connection {
  std::string server = "127.0.0.1:50051";
  std::string ca_file, cert_file, key_file;
};
Connection g_connection;

std::string ReadOrDie(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  if (!in || out.str().empty()) {
    std::cerr << "error: cannot read " << path << "\n";
    std::exit(1);
  }
  return out.str();
}

std::shared_ptr<grpc::Channel> Connect(const std::string& server) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);  // a full stream's outcomes
  const Connection& c = g_connection;
  if (c.ca_file.empty() && c.cert_file.empty() && c.key_file.empty()) {
    return grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadOrDie(c.ca_file);
  ssl.pem_cert_chain = ReadOrDie(c.cert_file);
  ssl.pem_private_key = ReadOrDie(c.key_file);
  return grpc::CreateCustomChannel(server, grpc::SslCredentials(ssl), args);
}

// Every call has a deadline: a hung server never hangs an operator's script.
void SetDeadline(grpc::ClientContext& context, int seconds) {
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
}

int Fail(const std::string& what) {
  std::cerr << "error: " << what << "\n";
  return kExitError;
}

int RpcFail(const grpc::ClientContext& context, const grpc::Status& status) {
  std::string reason;
  const auto& trailers = context.GetServerTrailingMetadata();
  if (auto it = trailers.find("ledger-reason"); it != trailers.end()) {
    reason = StrCat(" [reason=", std::string(it->second.data(), it->second.size()), "]");
  }
  return Fail(StrCat("rpc failed: code ", static_cast<int>(status.error_code()), ": ",
                     status.error_message(), reason));
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(StrCat("cannot open ", path));
  std::ostringstream out;
  out << in.rdbuf();
  return std::move(out).str();
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

int AdoptPolicy(const std::string& server, const std::string& file) {
  auto text = ReadFile(file);
  if (!text.ok()) return Fail(std::string(text.status().message()));
  auto policy = ledger::ParsePolicyJson(*text);
  if (!policy.ok()) return Fail(StrCat(file, ": ", std::string(policy.status().message())));
  auto stub = v1::PolicyService::NewStub(Connect(server));
  grpc::ClientContext context;
  SetDeadline(context, ledger::kClientUnaryDeadlineSeconds);
  v1::AdoptPolicyRequest request;
  *request.mutable_policy() = *policy;
  v1::AdoptPolicyResponse response;
  if (auto st = stub->AdoptPolicy(&context, request, &response); !st.ok()) {
    return RpcFail(context, st);
  }
  std::cout << (response.duplicate() ? "already adopted: " : "adopted: ") << "policy "
            << policy->region_code() << " v" << policy->version() << " ("
            << policy->region_name() << ") at sequence " << response.sequence() << "\n";
  return 0;
}

int ShowPolicy(const std::string& server, const std::string& region) {
  auto stub = v1::PolicyService::NewStub(Connect(server));
  grpc::ClientContext context;
  SetDeadline(context, ledger::kClientUnaryDeadlineSeconds);
  v1::GetPolicyRequest request;
  request.set_region_code(region);
  v1::Policy policy;
  if (auto st = stub->GetPolicy(&context, request, &policy); !st.ok()) return RpcFail(context, st);
  std::cout << ToJson(policy);
  return 0;
}

int Enrol(const std::string& server, const v1::ParticipantEnrolled& participant) {
  auto stub = v1::AccountService::NewStub(Connect(server));
  grpc::ClientContext context;
  SetDeadline(context, ledger::kClientUnaryDeadlineSeconds);
  v1::EnrolRequest request;
  *request.mutable_participant() = participant;
  v1::EnrolResponse response;
  if (auto st = stub->Enrol(&context, request, &response); !st.ok()) return RpcFail(context, st);
  std::cout << (response.duplicate() ? "already enrolled" : "enrolled") << " at sequence "
            << response.sequence() << "\n";
  return 0;
}

int ShowAccount(const std::string& server, const std::string& citizen_id, bool json) {
  auto stub = v1::AccountService::NewStub(Connect(server));
  grpc::ClientContext context;
  SetDeadline(context, ledger::kClientUnaryDeadlineSeconds);
  v1::GetAccountRequest request;
  request.set_citizen_id(citizen_id);
  v1::Account a;
  if (auto st = stub->GetAccount(&context, request, &a); !st.ok()) return RpcFail(context, st);
  if (json) {
    std::cout << ToJson(a);
    return 0;
  }
  std::printf("citizen_id          %s\n", a.citizen_id().c_str());
  std::printf("name                %s\n", a.name().c_str());
  std::printf("region              %s\n", a.region_code().c_str());
  std::printf("status              %s\n",
              v1::ParticipantStatus_Name(a.status()).substr(19).c_str());
  std::printf("enrolled            %s (sequence %llu)\n", a.enrolment_date().c_str(),
              static_cast<unsigned long long>(a.enrolled_sequence()));
  if (!a.date_of_death().empty()) std::printf("date of death       %s\n", a.date_of_death().c_str());
  if (!a.transferred_to().empty()) std::printf("transferred to      %s\n", a.transferred_to().c_str());
  if (a.has_benefit()) {
    const v1::Benefit& b = a.benefit();
    std::printf("benefit from        %d\n", b.start_month());
    std::printf("account pension     %s yuan/month (balance %s at start, %u contribution years)\n",
                ledger::FormatFen(b.account_pension_monthly_fen()).c_str(),
                ledger::FormatFen(b.balance_at_start_fen()).c_str(), b.contribution_years());
    std::printf("next unpaid month   %d\n", b.next_month());
    std::printf("paid so far         basic %s, account %s, pooled %s\n",
                ledger::FormatFen(b.paid_basic_fen()).c_str(),
                ledger::FormatFen(b.paid_account_fen()).c_str(),
                ledger::FormatFen(b.paid_pooled_fen()).c_str());
    if (b.suspended_from() != 0) std::printf("suspended from      %d\n", b.suspended_from());
  }
  std::printf("%-20s%14s %14s\n", "balance by source", "principal", "interest");
  for (const auto& b : a.balances()) {
    std::printf("  %-18s%14s %14s\n", std::string(ledger::SourceName(b.source())).c_str(),
                ledger::FormatFen(b.principal_fen()).c_str(),
                ledger::FormatFen(b.interest_fen()).c_str());
  }
  std::printf("total               %s yuan\n", ledger::FormatFen(a.total_fen()).c_str());
  std::printf("contribution years  %u\n", a.contribution_years());
  for (const auto& c : a.contributions()) {
    std::printf("  %d  %12s  receipt %s\n", c.year(), ledger::FormatFen(c.amount_fen()).c_str(),
                c.receipt_number().c_str());
  }
  std::printf("as of sequence      %llu\n", static_cast<unsigned long long>(a.last_sequence()));
  return 0;
}

struct ImportTotals {
  size_t rows = 0, accepted = 0, duplicate = 0, suspense = 0, rejected = 0, printed = 0;
};

// `why` starts with "line N: ".
void ReportRejected(ImportTotals& t, const std::string& why) {
  ++t.rejected;
  if (t.printed++ < kRejectedRowsPrintedMax) std::cerr << "rejected " << why << "\n";
}

// Sends `records` (with their file line numbers) over one client stream, in messages of
// `batch_size`, and tallies the outcomes.
absl::Status SendStream(v1::CollectionService::Stub& stub, const std::vector<v1::CollectionRecord>& records,
                        const std::vector<size_t>& lines, size_t batch_size, ImportTotals& totals,
                        const std::function<void(size_t)>& progress) {
  grpc::ClientContext context;
  SetDeadline(context, ledger::kClientStreamDeadlineSeconds);
  v1::PushCollectionsResponse response;
  auto writer = stub.StreamCollections(&context, &response);
  v1::PushCollectionsRequest message;
  for (size_t i = 0; i < records.size(); i += batch_size) {
    message.clear_records();
    for (size_t j = i; j < std::min(records.size(), i + batch_size); ++j) {
      *message.add_records() = records[j];
    }
    if (!writer->Write(message)) break;  // the server ended the stream; Finish says why
    progress(std::min(records.size(), i + batch_size));
  }
  writer->WritesDone();
  grpc::Status st = writer->Finish();
  if (!st.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
  }
  totals.accepted += response.accepted_count();
  totals.duplicate += response.duplicate_count();
  totals.suspense += response.suspense_count();
  for (const auto& o : response.outcomes()) {
    if (o.outcome() == v1::OUTCOME_REJECTED && o.index() < lines.size()) {
      ReportRejected(totals, StrCat("line ", lines[o.index()], ": ", v1::Reason_Name(o.reason()),
                                    ": ", o.detail()));
    }
  }
  // Every row sent must have its outcome: a stream the server ended early (a message it could
  // not read ends a gRPC stream like a clean end) must not pass for success.
  const size_t answered = static_cast<size_t>(response.outcomes_size());
  if (answered != records.size()) {
    return absl::DataLossError(StrCat("the server answered ", answered, " of ", records.size(),
                                      " rows; rows from line ",
                                      lines[std::min(answered, lines.size() - 1)],
                                      " were not processed"));
  }
  return absl::OkStatus();
}

int Import(const std::string& server, const std::string& file, size_t batch_size) {
  batch_size = std::clamp<size_t>(batch_size, 1, ledger::kBatchRecordsMax);
  auto text = ReadFile(file);
  if (!text.ok()) return Fail(std::string(text.status().message()));
  tools::CsvReader reader(*text);
  auto header = reader.Next();
  if (!header.ok() || !header->has_value()) return Fail(StrCat(file, ": no header row"));
  auto csv = tools::CollectionCsv::FromHeader(**header);
  if (!csv.ok()) return Fail(StrCat(file, ": ", std::string(csv.status().message())));

  // Rows are parsed and sent one stream (≤ kStreamRecordsMax records) at a time, so memory stays
  // bounded whatever the file's size. The total for the progress display counts line ends.
  const size_t total_estimate =
      std::max<size_t>(1, std::count(text->begin(), text->end(), '\n')) - 1;
  const bool tty = isatty(STDERR_FILENO);
  const auto start = std::chrono::steady_clock::now();
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  ImportTotals totals;
  size_t sent_before = 0, last_decile = 0;
  auto progress = [&](size_t sent_in_stream) {
    const size_t sent = sent_before + sent_in_stream;
    const size_t percent = std::min<size_t>(100, sent * 100 / std::max<size_t>(1, total_estimate));
    if (tty) {
      std::fprintf(stderr, "\rsent %zu/%zu rows (%zu%%) %.0f rows/s   ", sent, total_estimate,
                   percent, sent / std::max(seconds(), 1e-9));
    } else if (percent / 10 > last_decile) {
      std::fprintf(stderr, "sent %zu/%zu rows (%zu%%)\n", sent, total_estimate, percent);
      last_decile = percent / 10;
    }
  };
  auto stub = v1::CollectionService::NewStub(Connect(server));
  std::vector<v1::CollectionRecord> records;
  std::vector<size_t> lines;
  bool end_of_file = false;
  while (!end_of_file) {
    records.clear();
    lines.clear();
    while (records.size() < ledger::kStreamRecordsMax) {
      auto row = reader.Next();
      if (!row.ok()) {
        ++totals.rows;
        ReportRejected(totals, std::string(row.status().message()));
        continue;
      }
      if (!row->has_value()) {
        end_of_file = true;
        break;
      }
      ++totals.rows;
      auto record = csv->ParseRow(**row, reader.line());
      if (!record.ok()) {
        ReportRejected(totals, std::string(record.status().message()));
        continue;
      }
      records.push_back(std::move(*record));
      lines.push_back(reader.line());
    }
    if (records.empty()) continue;
    if (auto st = SendStream(*stub, records, lines, batch_size, totals, progress); !st.ok()) {
      if (tty) std::fputc('\n', stderr);
      return Fail(StrCat("import stopped; rows before line ", lines.front(),
                         " are committed: ", std::string(st.message()),
                         " (re-run the import: committed rows come back as duplicate)"));
    }
    sent_before += records.size();
  }
  if (tty) std::fputc('\n', stderr);
  if (totals.printed > kRejectedRowsPrintedMax) {
    std::cerr << "... and " << totals.printed - kRejectedRowsPrintedMax << " more rejected rows\n";
  }
  const double s = seconds();
  std::printf(
      "imported %s: rows=%zu accepted=%zu duplicate=%zu suspense=%zu rejected=%zu seconds=%.2f "
      "rows_per_s=%.0f\n",
      file.c_str(), totals.rows, totals.accepted, totals.duplicate, totals.suspense,
      totals.rejected, s, sent_before / std::max(s, 1e-9));
  return totals.rejected > 0 ? kExitRowsRejected : 0;
}

// grpc.health.v1.Health/Check for the whole server.
int Health(const std::string& server) {
  grpc::ClientContext context;
  SetDeadline(context, 5);
  int status = -1;
  if (auto st = services::CheckHealth(Connect(server), context, status); !st.ok()) {
    return RpcFail(context, st);
  }
  const bool serving = status == 1;
  std::printf("%s\n", serving ? "SERVING" : "NOT_SERVING");
  return serving ? 0 : kExitError;
}

int Backup(const std::string& server, const std::string& directory) {
  auto stub = v1::AdminService::NewStub(Connect(server));
  grpc::ClientContext context;
  SetDeadline(context, ledger::kClientStreamDeadlineSeconds);  // a checkpoint may flush memtables
  v1::BackupRequest request;
  request.set_directory(directory);
  v1::BackupResponse response;
  if (auto st = stub->Backup(&context, request, &response); !st.ok()) return RpcFail(context, st);
  std::printf("backup written to %s (on the server): last_sequence=%llu chain_head=%s\n",
              directory.c_str(), static_cast<unsigned long long>(response.sequence()),
              ledger::HexEncode(response.chain_head()).c_str());
  return 0;
}

// Offline: copies a backup into a new data directory, then opens it, which re-hashes the whole
// chain and checks the projections against it.
int Restore(const std::string& from, const std::string& data_dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(from)) return Fail(StrCat(from, " is not a backup directory"));
  if (fs::exists(data_dir) && !fs::is_empty(data_dir)) {
    return Fail(StrCat(data_dir, " exists and is not empty; restore into a new directory"));
  }
  std::error_code error;
  fs::copy(from, data_dir, fs::copy_options::recursive, error);
  if (error) return Fail(StrCat("copying ", from, " to ", data_dir, ": ", error.message()));
  auto ledger = ledger::Ledger::Open({.data_dir = data_dir, .verify_chain_on_open = true});
  if (!ledger.ok()) return Fail(StrCat("the restored copy does not open: ", ledger.status().ToString()));
  const ledger::ChainHead head = (*ledger)->Head();
  std::printf("restored %s into %s: last_sequence=%llu chain_head=%s; chain verified\n",
              from.c_str(), data_dir.c_str(), static_cast<unsigned long long>(head.sequence),
              ledger::HexEncode(head.hash).c_str());
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The account lifecycle. Every command prints `<what>: sequence=<first>..<last>` (plus
// ` duplicate=true` when the server had already recorded the same command under its reference).

// Names operators type for the API's enums (snake case of the enum value without its prefix).
const std::map<std::string, v1::FiscalPurpose>& FiscalPurposes() {
  static const auto* kMap = new std::map<std::string, v1::FiscalPurpose>{
      {"contribution_subsidy", v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY},
      {"paid_on_behalf", v1::FISCAL_PURPOSE_PAID_ON_BEHALF},
      {"basic_pension", v1::FISCAL_PURPOSE_BASIC_PENSION}};
  return *kMap;
}

const std::map<std::string, v1::RefundReason>& RefundReasons() {
  static const auto* kMap = new std::map<std::string, v1::RefundReason>{
      {"duplicate_enrolment", v1::REFUND_REASON_DUPLICATE_ENROLMENT},
      {"out_of_scope", v1::REFUND_REASON_OUT_OF_SCOPE},
      {"death", v1::REFUND_REASON_DEATH},
      {"paid_after_pension", v1::REFUND_REASON_PAID_AFTER_PENSION},
      {"other", v1::REFUND_REASON_OTHER}};
  return *kMap;
}

const std::map<std::string, v1::JobKind>& JobKinds() {
  static const auto* kMap = new std::map<std::string, v1::JobKind>{
      {"government_subsidy", v1::JOB_KIND_GOVERNMENT_SUBSIDY},
      {"interest", v1::JOB_KIND_INTEREST},
      {"benefits", v1::JOB_KIND_BENEFITS}};
  return *kMap;
}

const std::map<std::string, v1::FundingSource>& FundingSources() {
  static const auto* kMap = new std::map<std::string, v1::FundingSource>{
      {"personal", v1::FUNDING_SOURCE_PERSONAL},
      {"government", v1::FUNDING_SOURCE_GOVERNMENT},
      {"collective", v1::FUNDING_SOURCE_COLLECTIVE},
      {"sponsorship", v1::FUNDING_SOURCE_SPONSORSHIP},
      {"transfer_in", v1::FUNDING_SOURCE_TRANSFER_IN}};
  return *kMap;
}

const std::map<std::string, v1::BankAccount>& BankAccounts() {
  static const auto* kMap = new std::map<std::string, v1::BankAccount>{
      {"income", v1::BANK_ACCOUNT_INCOME},
      {"special", v1::BANK_ACCOUNT_SPECIAL},
      {"payment", v1::BANK_ACCOUNT_PAYMENT}};
  return *kMap;
}

template <typename Enum>
std::vector<std::string> Names(const std::map<std::string, Enum>& map) {
  std::vector<std::string> names;
  for (const auto& [name, value] : map) names.push_back(name);
  return names;
}

// An amount typed in yuan ("1234.5") → fen, or the error naming the option.
absl::StatusOr<int64_t> YuanOption(std::string_view option, const std::string& text) {
  auto fen = ledger::ParseYuanToFen(text);
  if (!fen.ok()) {
    return absl::InvalidArgumentError(StrCat(option, ": ", std::string(fen.status().message())));
  }
  return *fen;
}

// Sends one lifecycle command (a unary call answered by CommandResponse) and prints its sequences.
template <typename Service, typename Request>
int RunCommand(const std::string& server, std::string_view what, const Request& request,
               grpc::Status (Service::Stub::*method)(grpc::ClientContext*, const Request&,
                                                     v1::CommandResponse*)) {
  auto stub = Service::NewStub(Connect(server));
  grpc::ClientContext context;
  SetDeadline(context, ledger::kClientUnaryDeadlineSeconds);
  v1::CommandResponse response;
  if (auto st = ((*stub).*method)(&context, request, &response); !st.ok()) {
    return RpcFail(context, st);
  }
  std::printf("%.*s: sequence=%llu..%llu%s\n", static_cast<int>(what.size()), what.data(),
              static_cast<unsigned long long>(response.first_sequence()),
              static_cast<unsigned long long>(response.last_sequence()),
              response.duplicate() ? " duplicate=true" : "");
  return 0;
}

// A signed amount in yuan ("-12.50" allowed), for bank statement balances.
absl::StatusOr<int64_t> SignedYuanOption(std::string_view option, const std::string& text) {
  const bool negative = !text.empty() && text[0] == '-';
  auto fen = YuanOption(option, negative ? text.substr(1) : text);
  if (!fen.ok()) return fen.status();
  return negative ? -*fen : *fen;
}

int FundBalance(const std::string& server, const v1::GetFundBalanceRequest& request) {
  auto stub = v1::FundService::NewStub(Connect(server));
  grpc::ClientContext context;
  SetDeadline(context, ledger::kClientUnaryDeadlineSeconds);
  v1::FundBalance response;
  if (auto st = stub->GetFundBalance(&context, request, &response); !st.ok()) {
    return RpcFail(context, st);
  }
  std::printf("%s %s as_of=%s balance=%s as_of_sequence=%llu\n", response.region_code().c_str(),
              response.ledger_account().c_str(),
              response.as_of_date().empty() ? "latest" : response.as_of_date().c_str(),
              ledger::FormatFen(response.balance_fen()).c_str(),
              static_cast<unsigned long long>(response.as_of_sequence()));
  return 0;
}

int ReportDailyTotals(const std::string& server, const v1::ReportDailyTotalsRequest& request) {
  auto stub = v1::CollectionService::NewStub(Connect(server));
  grpc::ClientContext context;
  SetDeadline(context, ledger::kClientUnaryDeadlineSeconds);
  v1::ReportDailyTotalsResponse response;
  if (auto st = stub->ReportDailyTotals(&context, request, &response); !st.ok()) {
    return RpcFail(context, st);
  }
  const auto& d = response.reconciliation();
  std::printf("daily totals reported: sequence=%llu%s status=%s ledger=%llu/%s reported=%llu/%s "
              "difference=%s missing_in_ledger=%d not_reported=%d\n",
              static_cast<unsigned long long>(response.result().first_sequence()),
              response.result().duplicate() ? " duplicate=true" : "",
              v1::ReconStatus_Name(d.status()).c_str(),
              static_cast<unsigned long long>(d.ledger_count()),
              ledger::FormatFen(d.ledger_total_fen()).c_str(),
              static_cast<unsigned long long>(d.reported_count()),
              ledger::FormatFen(d.reported_total_fen()).c_str(),
              ledger::FormatFen(d.difference_fen()).c_str(), d.missing_in_ledger_size(),
              d.not_reported_size());
  return 0;
}

// The four reconciliations: text on stdout, or (with --html) a self-contained HTML report
// written to `html_file` and the summary line on stdout.
int Reconcile(const std::string& server, const v1::ReconciliationRequest& request,
              const std::string& html_file) {
  auto stub = v1::FundService::NewStub(Connect(server));
  grpc::ClientContext context;
  SetDeadline(context, ledger::kClientUnaryDeadlineSeconds);
  v1::Reconciliation response;
  if (auto st = stub->GetReconciliation(&context, request, &response); !st.ok()) {
    return RpcFail(context, st);
  }
  const std::string text = tools::ReconText(response);
  if (html_file.empty()) {
    std::fputs(text.c_str(), stdout);
    return 0;
  }
  std::ofstream out(html_file, std::ios::binary | std::ios::trunc);
  const std::string generated = absl::FormatTime("%Y-%m-%d %H:%M:%S %Z", absl::Now(),
                                                 absl::LocalTimeZone());
  out << tools::ReconHtml(response, generated);
  out.close();
  if (!out) return Fail(StrCat("cannot write ", html_file));
  std::printf("%s", text.substr(0, text.find('\n') + 1).c_str());
  std::printf("html report: %s\n", html_file.c_str());
  return 0;
}

int LedgerBalances(const std::string& server, const std::string& region) {
  auto stub = v1::FundService::NewStub(Connect(server));
  grpc::ClientContext context;
  SetDeadline(context, ledger::kClientUnaryDeadlineSeconds);
  v1::GetLedgerBalancesRequest request;
  request.set_region_code(region);
  v1::LedgerBalances response;
  if (auto st = stub->GetLedgerBalances(&context, request, &response); !st.ok()) {
    return RpcFail(context, st);
  }
  const std::map<std::string, int64_t> sorted(response.balances_fen().begin(),
                                              response.balances_fen().end());
  for (const auto& [account, fen] : sorted) {
    std::printf("%s=%s\n", account.c_str(), ledger::FormatFen(fen).c_str());
  }
  return 0;
}

// Runs a region's batch job to completion. Progress (one line per streamed JobProgress) goes to
// stderr, like import's; the final summary line goes to stdout.
int RunJob(const std::string& server, const std::string& kind_name, const v1::JobRequest& request) {
  auto stub = v1::AccountService::NewStub(Connect(server));
  grpc::ClientContext context;
  // A job is many commits; it gets the bulk deadline, not the unary one.
  SetDeadline(context, ledger::kClientStreamDeadlineSeconds);
  const auto start = std::chrono::steady_clock::now();
  auto reader = stub->RunJob(&context, request);
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
  if (grpc::Status st = reader->Finish(); !st.ok()) return RpcFail(context, st);
  if (!any || !last.completed()) {
    return Fail("the server ended the job stream without reporting completion; re-run the job "
                "(it resumes where it stopped)");
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("job=%s region=%s period=%d completed=true accounts_credited=%llu total=%s "
              "seconds=%.2f\n",
              kind_name.c_str(), request.region_code().c_str(), request.period(),
              static_cast<unsigned long long>(last.accounts_credited()),
              ledger::FormatFen(last.total_fen()).c_str(), seconds);
  return 0;
}

// The funding sources a statement shows: those in its opening, lines or closing, in enum order.
std::vector<v1::FundingSource> StatementSources(const v1::Statement& s) {
  std::set<int> seen;
  for (const auto& a : s.opening()) seen.insert(a.source());
  for (const auto& a : s.closing()) seen.insert(a.source());
  for (const auto& line : s.lines()) {
    for (const auto& a : line.parts()) seen.insert(a.source());
  }
  std::vector<v1::FundingSource> out;
  for (int source : seen) out.push_back(static_cast<v1::FundingSource>(source));
  return out;
}

int64_t AmountOf(const google::protobuf::RepeatedPtrField<v1::SourceAmount>& amounts,
                 v1::FundingSource source) {
  int64_t fen = 0;
  for (const auto& a : amounts) {
    if (a.source() == source) fen += a.amount_fen();
  }
  return fen;
}

// RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled.
std::string CsvField(const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void PrintStatementCsv(const v1::Statement& s) {
  static constexpr v1::FundingSource kColumns[] = {
      v1::FUNDING_SOURCE_PERSONAL, v1::FUNDING_SOURCE_GOVERNMENT, v1::FUNDING_SOURCE_COLLECTIVE,
      v1::FUNDING_SOURCE_SPONSORSHIP, v1::FUNDING_SOURCE_TRANSFER_IN};
  std::printf("date,sequence,kind,reference,personal,government,collective,sponsorship,"
              "transfer_in,total\n");
  auto row = [&](const std::string& date, const std::string& sequence, const std::string& kind,
                 const std::string& reference,
                 const google::protobuf::RepeatedPtrField<v1::SourceAmount>& parts, int64_t total) {
    std::string out = StrCat(date, ",", sequence, ",", CsvField(kind), ",", CsvField(reference));
    for (v1::FundingSource source : kColumns) {
      out += StrCat(",", ledger::FormatFen(AmountOf(parts, source)));
    }
    std::printf("%s,%s\n", out.c_str(), ledger::FormatFen(total).c_str());
  };
  row(StrCat(s.year(), "-01-01"), "", "opening", "", s.opening(), s.opening_total_fen());
  for (const auto& line : s.lines()) {
    row(line.date(), std::to_string(line.sequence()), line.kind(), line.reference(), line.parts(),
        line.total_fen());
  }
  row(StrCat(s.year(), "-12-31"), "", "closing", "", s.closing(), s.closing_total_fen());
}

// A line's kind, with the month a benefit payment is for ("benefit_paid 202605").
std::string KindLabel(const v1::StatementLine& line) {
  return line.month() == 0 ? line.kind() : StrCat(line.kind(), " ", line.month());
}

void PrintStatementText(const v1::Statement& s) {
  const std::vector<v1::FundingSource> sources = StatementSources(s);
  constexpr int kAmountWidth = 12;
  size_t kind_width = 4, reference_width = 9;
  for (const auto& line : s.lines()) {
    kind_width = std::max(kind_width, KindLabel(line).size());
    reference_width = std::max(reference_width, line.reference().size());
  }
  std::printf("annual account statement (对账单) %d\n", s.year());
  std::printf("citizen_id          %s\n", ledger::MaskCitizenId(s.citizen_id()).c_str());
  std::printf("name                %s\n", s.name().c_str());
  std::printf("region              %s\n", s.region_code().c_str());
  std::printf("year                %d\n", s.year());
  auto balances = [&](const char* title,
                      const google::protobuf::RepeatedPtrField<v1::SourceAmount>& amounts,
                      int64_t total) {
    std::printf("%s\n", title);
    for (v1::FundingSource source : sources) {
      std::printf("  %-18s%*s\n", std::string(ledger::SourceName(source)).c_str(), kAmountWidth,
                  ledger::FormatFen(AmountOf(amounts, source)).c_str());
    }
    std::printf("  %-18s%*s\n", "total", kAmountWidth, ledger::FormatFen(total).c_str());
  };
  balances("opening balance", s.opening(), s.opening_total_fen());
  std::printf("movements (%d)\n", s.lines_size());
  std::string header = StrCat("  ", "date      ", "  ", "kind",
                              std::string(kind_width - 4, ' '), "  ", "reference",
                              std::string(reference_width - 9, ' '));
  for (v1::FundingSource source : sources) {
    const std::string name(ledger::SourceName(source));
    header += StrCat(" ", std::string(kAmountWidth - std::min<size_t>(kAmountWidth, name.size()), ' '),
                     name);
  }
  header += StrCat(" ", std::string(kAmountWidth - 5, ' '), "total");
  std::printf("%s\n", header.c_str());
  for (const auto& line : s.lines()) {
    std::printf("  %-10s  %-*s  %-*s", line.date().c_str(), static_cast<int>(kind_width),
                KindLabel(line).c_str(), static_cast<int>(reference_width),
                line.reference().c_str());
    for (v1::FundingSource source : sources) {
      const bool moved = std::any_of(line.parts().begin(), line.parts().end(),
                                     [&](const auto& a) { return a.source() == source; });
      std::printf(" %*s", kAmountWidth,
                  moved ? ledger::FormatFen(AmountOf(line.parts(), source)).c_str() : "");
    }
    std::printf(" %*s\n", kAmountWidth, ledger::FormatFen(line.total_fen()).c_str());
  }
  std::printf("interest            %s\n", ledger::FormatFen(s.interest_fen()).c_str());
  std::printf("paid out            %s\n", ledger::FormatFen(s.paid_out_fen()).c_str());
  balances("closing balance", s.closing(), s.closing_total_fen());
}

int ShowStatement(const std::string& server, const std::string& citizen_id, int year, bool csv) {
  auto stub = v1::AccountService::NewStub(Connect(server));
  grpc::ClientContext context;
  SetDeadline(context, ledger::kClientUnaryDeadlineSeconds);
  v1::GetStatementRequest request;
  request.set_citizen_id(citizen_id);
  request.set_year(year);
  v1::Statement statement;
  if (auto st = stub->GetStatement(&context, request, &statement); !st.ok()) {
    return RpcFail(context, st);
  }
  if (csv) {
    PrintStatementCsv(statement);
  } else {
    PrintStatementText(statement);
  }
  return 0;
}

// `--part SOURCE=YUAN` of a transfer in from another ledger.
absl::StatusOr<v1::SourceAmount> ParsePart(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos) {
    return absl::InvalidArgumentError(StrCat("--part '", text, "': expected SOURCE=YUAN"));
  }
  auto source = FundingSources().find(text.substr(0, eq));
  if (source == FundingSources().end()) {
    return absl::InvalidArgumentError(StrCat("--part '", text, "': unknown source (",
                                             absl::StrJoin(Names(FundingSources()), "|"), ")"));
  }
  auto fen = YuanOption("--part", text.substr(eq + 1));
  if (!fen.ok()) return fen.status();
  v1::SourceAmount part;
  part.set_source(source->second);
  part.set_amount_fen(*fen);
  return part;
}

// ---------------------------------------------------------------------------------------------
// The auditor's tools: an export of the signed log and its offline verification, and the
// AuditService reads. A verification that finds damage or a difference exits 2.

// Streams events [from, to] (to = 0: the head when the stream starts) into an export file
// (ledger/audit.h): each event's stored bytes in order, each signed checkpoint right after the
// event it signs.
int Export(const std::string& server, const std::string& file, uint64_t from, uint64_t to,
           const std::string& pubkey_out) {
  auto writer = ledger::ExportWriter::Create(file);
  if (!writer.ok()) return Fail(std::string(writer.status().message()));
  auto stub = v1::AuditService::NewStub(Connect(server));
  grpc::ClientContext context;
  SetDeadline(context, ledger::kClientStreamDeadlineSeconds);
  v1::StreamEventsRequest request;
  request.set_from_sequence(from);
  request.set_to_sequence(to);
  auto reader = stub->StreamEvents(&context, request);
  // An export that stops early is removed: a prefix of the log would verify as a shorter export.
  auto abandon = [&](int exit_code) {
    context.TryCancel();
    (void)reader->Finish();
    std::error_code ignored;
    std::filesystem::remove(file, ignored);
    return exit_code;
  };
  v1::AuditEvent event;
  // The server fixes the stream's last event when the call starts, and a checkpoint is committed
  // in the same write as the event it signs: once the first event has arrived, every checkpoint
  // the stream can reach is stored. Checkpoints past the stream's end are not written.
  if (!reader->Read(&event)) {
    const grpc::Status st = reader->Finish();
    std::error_code ignored;
    std::filesystem::remove(file, ignored);
    return st.ok() ? Fail("the server streamed no events") : RpcFail(context, st);
  }
  v1::Checkpoints checkpoints;
  {
    grpc::ClientContext checkpoints_context;
    SetDeadline(checkpoints_context, ledger::kClientUnaryDeadlineSeconds);
    v1::GetCheckpointsRequest checkpoints_request;
    checkpoints_request.set_from_sequence(from);
    checkpoints_request.set_to_sequence(to);
    if (auto st = stub->GetCheckpoints(&checkpoints_context, checkpoints_request, &checkpoints);
        !st.ok()) {
      return abandon(RpcFail(checkpoints_context, st));
    }
  }
  uint64_t events = 0, first = 0, last = 0, written_checkpoints = 0;
  int next_checkpoint = 0;
  const int checkpoint_count = checkpoints.checkpoints_size();
  do {
    const uint64_t sequence = event.event().sequence();
    if (events > 0 && sequence != last + 1) {
      return abandon(Fail(StrCat("the server sent sequence ", sequence, " after ", last)));
    }
    if (auto st = (*writer)->AddEvent(event.stored()); !st.ok()) {
      return abandon(Fail(StrCat(file, ": ", std::string(st.message()))));
    }
    if (events++ == 0) first = sequence;
    last = sequence;
    while (next_checkpoint < checkpoint_count &&
           checkpoints.checkpoints(next_checkpoint).sequence() <= sequence) {
      const v1::Checkpoint& c = checkpoints.checkpoints(next_checkpoint++);
      if (c.sequence() != sequence) continue;  // signs an event before the range
      if (auto st = (*writer)->AddCheckpoint(c); !st.ok()) {
        return abandon(Fail(StrCat(file, ": ", std::string(st.message()))));
      }
      ++written_checkpoints;
    }
  } while (reader->Read(&event));
  if (grpc::Status st = reader->Finish(); !st.ok()) {
    std::error_code ignored;
    std::filesystem::remove(file, ignored);
    return RpcFail(context, st);
  }
  if (auto st = (*writer)->Finish(); !st.ok()) {
    return Fail(StrCat(file, ": ", std::string(st.message())));
  }
  std::error_code error;
  const uintmax_t bytes = std::filesystem::file_size(file, error);
  std::printf("exported events=%llu first=%llu last=%llu checkpoints=%llu bytes=%llu\n",
              static_cast<unsigned long long>(events), static_cast<unsigned long long>(first),
              static_cast<unsigned long long>(last),
              static_cast<unsigned long long>(written_checkpoints),
              static_cast<unsigned long long>(error ? 0 : bytes));
  if (written_checkpoints == 0) {
    std::fprintf(stderr,
                 "warning: no signed checkpoint in the range (does the server sign with "
                 "--checkpoint-key?): the export will not verify\n");
  }
  if (!pubkey_out.empty()) {
    if (checkpoints.public_key_pem().empty()) {
      return Fail("the server has no checkpoint key: no public key to write");
    }
    std::ofstream out(pubkey_out, std::ios::binary | std::ios::trunc);
    out << checkpoints.public_key_pem();
    out.close();
    if (!out) return Fail(StrCat("cannot write ", pubkey_out));
    std::printf("server public key written to %s\n", pubkey_out.c_str());
  }
  return 0;
}

// Offline: verifies an export with the deployment's published public key. No server is involved.
int VerifyExportFile(const std::string& file, const std::string& pubkey_file) {
  auto pem = ReadFile(pubkey_file);
  if (!pem.ok()) return Fail(std::string(pem.status().message()));
  // A key that does not parse is the operator's mistake (exit 1), not damage to the export.
  if (auto st = ledger::VerifyCheckpointSignature(v1::Checkpoint(), *pem);
      absl::IsInvalidArgument(st)) {
    return Fail(StrCat(pubkey_file, ": ", std::string(st.message())));
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return Fail(StrCat("cannot open ", file));
  const ledger::ExportVerification v = ledger::VerifyExport(in, *pem);
  if (!v.ok) {
    std::fprintf(stderr, "verification FAILED at sequence %llu: %s\n",
                 static_cast<unsigned long long>(v.bad_sequence), v.reason.c_str());
    return kExitVerifyFailed;
  }
  std::printf("verified events=%llu first=%llu last=%llu checkpoints=%llu last_signed=%llu\n",
              static_cast<unsigned long long>(v.events),
              static_cast<unsigned long long>(v.first_sequence),
              static_cast<unsigned long long>(v.last_sequence),
              static_cast<unsigned long long>(v.checkpoints),
              static_cast<unsigned long long>(v.last_signed_sequence));
  if (v.last_sequence > v.last_signed_sequence) {
    std::fprintf(stderr,
                 "warning: events %llu..%llu follow the last signed checkpoint: they are "
                 "hash-chained but not signed\n",
                static_cast<unsigned long long>(v.last_signed_sequence + 1),
                static_cast<unsigned long long>(v.last_sequence));
  }
  return 0;
}

int VerifyChain(const std::string& server, uint64_t from, uint64_t to) {
  auto stub = v1::AuditService::NewStub(Connect(server));
  grpc::ClientContext context;
  SetDeadline(context, ledger::kClientStreamDeadlineSeconds);  // re-hashes the whole range
  v1::VerifyChainRequest request;
  request.set_from_sequence(from);
  request.set_to_sequence(to);
  v1::VerifyChainResponse response;
  if (auto st = stub->VerifyChain(&context, request, &response); !st.ok()) {
    return RpcFail(context, st);
  }
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

int ReplayCompare(const std::string& server) {
  auto stub = v1::AuditService::NewStub(Connect(server));
  grpc::ClientContext context;
  SetDeadline(context, ledger::kClientStreamDeadlineSeconds);  // rebuilds every projection
  v1::ReplayCompareResponse response;
  if (auto st = stub->ReplayCompare(&context, v1::ReplayCompareRequest(), &response); !st.ok()) {
    return RpcFail(context, st);
  }
  std::printf("replay equal=%s sequence=%llu events=%llu rows=%llu seconds=%.2f "
              "events_per_s=%.0f\n",
              response.equal() ? "true" : "false",
              static_cast<unsigned long long>(response.sequence()),
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
int BalanceAsOf(const std::string& server, const v1::BalanceAsOfRequest& request) {
  auto stub = v1::AuditService::NewStub(Connect(server));
  grpc::ClientContext context;
  SetDeadline(context, ledger::kClientUnaryDeadlineSeconds);
  v1::BalanceAsOfResponse response;
  if (auto st = stub->BalanceAsOf(&context, request, &response); !st.ok()) {
    return RpcFail(context, st);
  }
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
int ListEvents(const std::string& server, const v1::StreamEventsRequest& request, bool json) {
  auto stub = v1::AuditService::NewStub(Connect(server));
  grpc::ClientContext context;
  SetDeadline(context, ledger::kClientStreamDeadlineSeconds);
  auto reader = stub->StreamEvents(&context, request);
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
  if (grpc::Status st = reader->Finish(); !st.ok()) return RpcFail(context, st);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ledgerctl: operate the pension account ledger"};
  app.require_subcommand(1);
  std::string server = "127.0.0.1:50051";
  app.add_option("--server", server, "ledgerd address host:port")->capture_default_str();
  app.add_option("--ca", g_connection.ca_file, "CA that signed the server certificate (PEM)");
  app.add_option("--cert", g_connection.cert_file, "client certificate (PEM); its OU is the role");
  app.add_option("--key", g_connection.key_file, "client private key (PEM)");

  auto* policy = app.add_subcommand("policy", "adopt or show a region's policy");
  policy->require_subcommand(1);
  std::string policy_file, region;
  auto* adopt = policy->add_subcommand("adopt", "adopt a policy document (JSON)");
  adopt->add_option("file", policy_file, "policy JSON file")->required();
  auto* show_policy = policy->add_subcommand("show", "print the latest policy of a region");
  show_policy->add_option("region", region, "6-digit region code")->required();

  auto* enrol = app.add_subcommand("enrol", "enrol a resident (参保登记)");
  v1::ParticipantEnrolled p;
  std::string id, name, region_code, date, ethnicity, address, phone, group = "none";
  enrol->add_option("--id", id, "18-character citizen ID")->required();
  enrol->add_option("--name", name, "name")->required();
  enrol->add_option("--region", region_code, "household region code")->required();
  enrol->add_option("--date", date, "enrolment date YYYY-MM-DD")->required();
  enrol->add_option("--ethnicity", ethnicity, "ethnicity");
  enrol->add_option("--address", address, "address");
  enrol->add_option("--phone", phone, "phone");
  enrol->add_option("--special-group", group, "none|severely-disabled|minimum-living|extreme-hardship")
      ->check(CLI::IsMember({"none", "severely-disabled", "minimum-living", "extreme-hardship"}))
      ->capture_default_str();

  auto* import = app.add_subcommand("import", "import a tax collection CSV file");
  std::string csv_file;
  size_t batch_size = 1000;  // the best of 100..10000 measured (BENCHMARKS.md)
  import->add_option("file", csv_file, "CSV file with a header row")->required();
  import->add_option("--batch-size", batch_size, "records per stream message (1-10000)")
      ->capture_default_str();

  auto* account = app.add_subcommand("account", "show a participant's account");
  std::string account_id;
  bool json = false;
  account->add_option("citizen_id", account_id, "18-character citizen ID")->required();
  account->add_flag("--json", json, "print as JSON");

  auto* rebuild = app.add_subcommand(
      "rebuild", "offline: drop all projections and rebuild them by replaying the log");
  std::string data_dir;
  rebuild->add_option("--data-dir", data_dir, "ledgerd's data directory (server stopped)")
      ->required();

  auto* backup = app.add_subcommand(
      "backup", "online backup: the server writes a consistent copy to a new directory");
  std::string backup_dir;
  backup->add_option("--to", backup_dir, "absolute path on the SERVER's filesystem (must not exist)")
      ->required();
  auto* health = app.add_subcommand(
      "health", "grpc.health.v1 check: prints SERVING (exit 0) or NOT_SERVING (exit 1)");
  auto* restore = app.add_subcommand(
      "restore", "offline: copy a backup into a new data directory and verify it");
  std::string restore_from, restore_to;
  restore->add_option("--from", restore_from, "backup directory")->required();
  restore->add_option("--data-dir", restore_to, "new data directory for ledgerd")->required();

  // The account lifecycle (fund-agency certificate; statement and balances also auditor).
  // Amounts are yuan with at most two decimals; dates YYYY-MM-DD; months YYYYMM; --ref is the
  // agency's document number, which makes a resend harmless (it answers duplicate=true).
  struct {
    std::string id, region, amount, date, ref, payer, reason_text, date_of_death, to_region,
        from_region;
    int year = 0, month = 0;
    std::string purpose, source, refund_reason, kind;
    std::vector<std::string> parts;
    std::vector<int> years;
    bool csv = false;
  } lc;
  auto add_date_ref = [&](CLI::App* command) {
    command->add_option("--date", lc.date, "business date YYYY-MM-DD (not in the future)")
        ->required();
    command->add_option("--ref", lc.ref, "document reference (1-64 printable ASCII)")->required();
  };
  auto add_id = [&](CLI::App* command) {
    command->add_option("citizen_id", lc.id, "18-character citizen ID")->required();
  };

  auto* funds = app.add_subcommand("funds", "fiscal funds (财政专户) and ledger balances");
  funds->require_subcommand(1);
  auto* funds_receive =
      funds->add_subcommand("receive", "record fiscal funds received from the treasury");
  funds_receive->add_option("--region", lc.region, "6-digit region code")->required();
  funds_receive->add_option("--purpose", lc.purpose, "what the funds are for")
      ->required()
      ->check(CLI::IsMember(Names(FiscalPurposes())));
  funds_receive->add_option("--year", lc.year, "year the funds are for")->required();
  funds_receive->add_option("--amount", lc.amount, "yuan, e.g. 120000.00")->required();
  add_date_ref(funds_receive);
  auto* funds_balances = funds->add_subcommand(
      "balances", "double-entry account balances of a region (debits minus credits, yuan)");
  funds_balances->add_option("--region", lc.region, "6-digit region code")->required();

  struct {
    std::string account, from, to, office, balance, as_of;
    uint64_t count = 0;
    std::vector<std::string> receipts;
  } fa;
  auto* funds_remit = funds->add_subcommand(
      "remit", "record a tax remittance (解缴) into the income or special account");
  funds_remit->add_option("--region", lc.region, "6-digit region code")->required();
  funds_remit->add_option("--account", fa.account, "bank account it arrived in")
      ->required()
      ->check(CLI::IsMember({"income", "special"}));
  funds_remit->add_option("--amount", lc.amount, "yuan")->required();
  funds_remit->add_option("--office", fa.office, "remitting tax office (optional)");
  add_date_ref(funds_remit);
  auto* funds_sweep = funds->add_subcommand(
      "sweep", "move money between fund accounts: income→special, special→payment, payment→special");
  funds_sweep->add_option("--region", lc.region, "6-digit region code")->required();
  funds_sweep->add_option("--from", fa.from, "source account")
      ->required()
      ->check(CLI::IsMember(Names(BankAccounts())));
  funds_sweep->add_option("--to", fa.to, "destination account")
      ->required()
      ->check(CLI::IsMember(Names(BankAccounts())));
  funds_sweep->add_option("--amount", lc.amount, "yuan")->required();
  add_date_ref(funds_sweep);
  auto* funds_interest = funds->add_subcommand("bank-interest", "record interest the bank paid");
  funds_interest->add_option("--region", lc.region, "6-digit region code")->required();
  funds_interest->add_option("--account", fa.account, "bank account")
      ->required()
      ->check(CLI::IsMember(Names(BankAccounts())));
  funds_interest->add_option("--amount", lc.amount, "yuan")->required();
  add_date_ref(funds_interest);
  auto* funds_statement = funds->add_subcommand(
      "bank-balance", "record a bank statement's closing balance (reconciled, not posted)");
  funds_statement->add_option("--region", lc.region, "6-digit region code")->required();
  funds_statement->add_option("--account", fa.account, "bank account")
      ->required()
      ->check(CLI::IsMember(Names(BankAccounts())));
  funds_statement->add_option("--balance", fa.balance, "yuan, may be negative")->required();
  add_date_ref(funds_statement);
  auto* funds_balance = funds->add_subcommand(
      "balance", "a fund bank account's ledger balance at the end of a date");
  funds_balance->add_option("--region", lc.region, "6-digit region code")->required();
  funds_balance->add_option("--account", fa.account, "bank account")
      ->required()
      ->check(CLI::IsMember(Names(BankAccounts())));
  funds_balance->add_option("--as-of", fa.as_of, "YYYY-MM-DD (default: every movement so far)");

  auto* tax = app.add_subcommand("tax", "the tax bureau's reports (tax-bureau certificate)");
  tax->require_subcommand(1);
  auto* tax_totals = tax->add_subcommand(
      "report-totals", "report one collection date's control totals for a tax office");
  tax_totals->add_option("--region", lc.region, "6-digit region code")->required();
  tax_totals->add_option("--date", lc.date, "collection date YYYY-MM-DD")->required();
  tax_totals->add_option("--office", fa.office, "tax office code")->required();
  tax_totals->add_option("--count", fa.count, "receipts sent for the day")->required();
  tax_totals->add_option("--total", lc.amount, "their total, yuan")->required();
  tax_totals->add_option("--receipts", fa.receipts, "their receipt numbers (optional)")
      ->delimiter(',');
  tax_totals->add_option("--ref", lc.ref, "report number (1-64 printable ASCII)")->required();

  auto* recon = app.add_subcommand(
      "recon", "reconciliation: tax daily totals, fiscal funds, bank balances, accounts vs control");
  std::string html_file;
  recon->add_option("--region", lc.region, "6-digit region code (default: all the caller may see)");
  recon->add_option("--from", fa.from, "first collection/statement date YYYY-MM-DD");
  recon->add_option("--to", fa.to, "last collection/statement date YYYY-MM-DD");
  recon->add_option("--office", fa.office, "tax office");
  recon->add_option("--html", html_file, "write a self-contained HTML report to this file");

  auto* subsidy = app.add_subcommand("subsidy", "collective subsidy and sponsorship");
  subsidy->require_subcommand(1);
  auto* subsidy_credit = subsidy->add_subcommand(
      "credit", "credit a collective subsidy (集体补助) or sponsorship (其他资助)");
  add_id(subsidy_credit);
  subsidy_credit->add_option("--year", lc.year, "contribution year")->required();
  subsidy_credit->add_option("--amount", lc.amount, "yuan")->required();
  subsidy_credit
      ->add_option("--source", lc.source, "collective (集体补助) or sponsorship (其他资助)")
      ->required()
      ->check(CLI::IsMember({"collective", "sponsorship"}));
  subsidy_credit->add_option("--payer", lc.payer, "who pays (village committee, sponsor)")
      ->required();
  add_date_ref(subsidy_credit);

  auto* refund = app.add_subcommand("refund", "refund a collected contribution (the whole receipt)");
  refund->add_option("receipt_number", lc.id, "e-tax receipt number")->required();
  refund->add_option("--reason", lc.refund_reason, "why the contribution is refunded")
      ->required()
      ->check(CLI::IsMember(Names(RefundReasons())));
  add_date_ref(refund);

  auto* benefit = app.add_subcommand("benefit", "determine, suspend or resume a pension");
  benefit->require_subcommand(1);
  auto* benefit_determine = benefit->add_subcommand("determine", "determine the pension (待遇核定)");
  add_id(benefit_determine);
  add_date_ref(benefit_determine);
  auto* benefit_suspend = benefit->add_subcommand("suspend", "suspend payment from a month");
  add_id(benefit_suspend);
  benefit_suspend->add_option("--from-month", lc.month, "first month not paid, YYYYMM")->required();
  benefit_suspend->add_option("--reason", lc.reason_text, "why (free text)")->required();
  add_date_ref(benefit_suspend);
  auto* benefit_resume = benefit->add_subcommand("resume", "resume a suspended pension");
  add_id(benefit_resume);
  benefit_resume->add_option("--month", lc.month, "first month paid again, YYYYMM")->required();
  add_date_ref(benefit_resume);

  auto* death = app.add_subcommand(
      "death", "record a death: overpayment, funeral subsidy and inheritance settle the account");
  add_id(death);
  death->add_option("--date-of-death", lc.date_of_death, "YYYY-MM-DD")->required();
  add_date_ref(death);

  auto* transfer = app.add_subcommand("transfer", "move an account between regions");
  transfer->require_subcommand(1);
  auto* transfer_out = transfer->add_subcommand("out", "transfer an account out of its region");
  add_id(transfer_out);
  transfer_out->add_option("--to-region", lc.to_region, "6-digit region code")->required();
  add_date_ref(transfer_out);
  auto* transfer_in = transfer->add_subcommand(
      "in", "transfer an account in (same ledger: after transfer out; else enrol first and give "
            "--part/--years from the transfer document)");
  add_id(transfer_in);
  transfer_in->add_option("--from-region", lc.from_region, "6-digit region code")->required();
  transfer_in->add_option("--to-region", lc.to_region, "6-digit region code")->required();
  transfer_in->add_option("--part", lc.parts, "SOURCE=YUAN, repeatable (from another ledger)");
  transfer_in->add_option("--years", lc.years, "contribution years, comma-separated")
      ->delimiter(',');
  add_date_ref(transfer_in);

  auto* job = app.add_subcommand("job", "region-wide batch jobs");
  job->require_subcommand(1);
  auto* job_run = job->add_subcommand(
      "run", "run a job to completion (resumable; a completed period is not run twice)");
  job_run->add_option("--kind", lc.kind, "which job")
      ->required()
      ->check(CLI::IsMember(Names(JobKinds())));
  job_run->add_option("--region", lc.region, "6-digit region code")->required();
  job_run->add_option("--period", lc.year, "YEAR (government_subsidy, interest) or YYYYMM (benefits)")
      ->required();
  job_run->add_option("--date", lc.date, "date the money moves (default today; interest: 31 Dec)");

  auto* statement = app.add_subcommand("statement", "annual account statement (对账单)");
  add_id(statement);
  statement->add_option("--year", lc.year, "calendar year")->required();
  statement->add_flag("--csv", lc.csv, "CSV with a header row, opening and closing rows");

  // The auditor (auditor certificate; `verify` is offline and needs no server).
  struct {
    std::string file, pubkey, pubkey_out, id, account, date, type, region;
    uint64_t from = 1, to = 0, sequence = 0;
    bool json = false;
  } au;
  auto add_range = [&](CLI::App* command, const char* what) {
    command->add_option("--from", au.from, StrCat("first sequence ", what))
        ->capture_default_str();
    command->add_option("--to", au.to, StrCat("last sequence ", what, " (0: the head)"))
        ->capture_default_str();
  };
  auto* export_log = app.add_subcommand(
      "export", "write the event log and its signed checkpoints to a file for offline verification");
  export_log->add_option("file", au.file, "export file to write (replaced if it exists)")
      ->required();
  add_range(export_log, "to export");
  export_log->add_option("--pubkey-out", au.pubkey_out,
                         "also write the server's checkpoint public key (PEM) to this file");
  auto* verify = app.add_subcommand(
      "verify", "offline: verify an export's hash chain and checkpoint signatures (exit 2: damaged)");
  verify->add_option("file", au.file, "export file")->required();
  verify->add_option("--pubkey", au.pubkey, "the deployment's published checkpoint public key (PEM)")
      ->required();

  auto* audit = app.add_subcommand("audit", "the auditor's reads (AuditService)");
  audit->require_subcommand(1);
  auto* audit_chain = audit->add_subcommand(
      "verify-chain", "the server re-hashes the log and checks every link (exit 2: a break)");
  add_range(audit_chain, "to verify");
  auto* audit_replay = audit->add_subcommand(
      "replay", "rebuild every projection from the log and compare with the live ones (exit 2: "
                "they differ)");
  auto* audit_balance = audit->add_subcommand(
      "balance", "a participant's or ledger account's balance recomputed from the log, as of a "
                 "sequence or an effective date");
  auto* balance_of = audit_balance->add_option_group("whose", "one of --id and --account");
  balance_of->add_option("--id", au.id, "18-character citizen ID");
  balance_of->add_option("--account", au.account, "ledger account REGION/ACCOUNT, e.g. "
                                                   "222401/fund.special");
  balance_of->require_option(1);
  audit_balance->add_option("--as-of-sequence", au.sequence, "last sequence to include");
  audit_balance->add_option("--as-of-date", au.date, "last effective date to include, YYYY-MM-DD");
  auto* audit_events = audit->add_subcommand(
      "events", "list events: sequence, effective date, type, region, reference, short hash");
  add_range(audit_events, "to list");
  audit_events->add_option("--id", au.id, "only this participant's events");
  audit_events->add_option("--type", au.type, "only this event type (snake_case)")
      ->check(CLI::IsMember(EventTypeNames()));
  audit_events->add_option("--region", au.region, "only this region's events");
  audit_events->add_flag("--json", au.json, "one JSON object per line");

  CLI11_PARSE(app, argc, argv);
  const Connection& c = g_connection;
  if ((c.ca_file.empty() || c.cert_file.empty() || c.key_file.empty()) &&
      !(c.ca_file.empty() && c.cert_file.empty() && c.key_file.empty())) {
    return Fail("--ca, --cert and --key go together (mutual TLS), or none of them (plain text)");
  }

  if (adopt->parsed()) return AdoptPolicy(server, policy_file);
  if (show_policy->parsed()) return ShowPolicy(server, region);
  if (enrol->parsed()) {
    p.set_citizen_id(id);
    p.set_name(name);
    p.set_region_code(region_code);
    p.set_enrolment_date(date);
    p.set_ethnicity(ethnicity);
    p.set_address(address);
    p.set_phone(phone);
    if (group == "severely-disabled") p.set_special_group(v1::SPECIAL_GROUP_SEVERELY_DISABLED);
    if (group == "minimum-living") p.set_special_group(v1::SPECIAL_GROUP_MINIMUM_LIVING_ALLOWANCE);
    if (group == "extreme-hardship") p.set_special_group(v1::SPECIAL_GROUP_EXTREME_HARDSHIP);
    return Enrol(server, p);
  }
  if (import->parsed()) return Import(server, csv_file, batch_size);
  if (account->parsed()) return ShowAccount(server, account_id, json);
  if (health->parsed()) return Health(server);
  if (backup->parsed()) return Backup(server, backup_dir);
  if (restore->parsed()) return Restore(restore_from, restore_to);
  if (funds_receive->parsed()) {
    auto fen = YuanOption("--amount", lc.amount);
    if (!fen.ok()) return Fail(std::string(fen.status().message()));
    v1::ReceiveFiscalFundsRequest r;
    r.set_region_code(lc.region);
    r.set_purpose(FiscalPurposes().at(lc.purpose));
    r.set_year(lc.year);
    r.set_amount_fen(*fen);
    r.set_date(lc.date);
    r.set_document_ref(lc.ref);
    return RunCommand<v1::FundService>(server, "funds received", r,
                                       &v1::FundService::Stub::ReceiveFiscalFunds);
  }
  if (funds_balances->parsed()) return LedgerBalances(server, lc.region);
  if (funds_remit->parsed()) {
    auto fen = YuanOption("--amount", lc.amount);
    if (!fen.ok()) return Fail(std::string(fen.status().message()));
    v1::ReceiveTaxRemittanceRequest r;
    r.set_region_code(lc.region);
    r.set_bank_account(BankAccounts().at(fa.account));
    r.set_amount_fen(*fen);
    r.set_tax_office(fa.office);
    r.set_date(lc.date);
    r.set_document_ref(lc.ref);
    return RunCommand<v1::FundService>(server, "remittance received", r,
                                       &v1::FundService::Stub::ReceiveTaxRemittance);
  }
  if (funds_sweep->parsed()) {
    auto fen = YuanOption("--amount", lc.amount);
    if (!fen.ok()) return Fail(std::string(fen.status().message()));
    v1::TransferBetweenFundAccountsRequest r;
    r.set_region_code(lc.region);
    r.set_from_account(BankAccounts().at(fa.from));
    r.set_to_account(BankAccounts().at(fa.to));
    r.set_amount_fen(*fen);
    r.set_date(lc.date);
    r.set_document_ref(lc.ref);
    return RunCommand<v1::FundService>(server, "swept", r,
                                       &v1::FundService::Stub::TransferBetweenFundAccounts);
  }
  if (funds_interest->parsed()) {
    auto fen = YuanOption("--amount", lc.amount);
    if (!fen.ok()) return Fail(std::string(fen.status().message()));
    v1::ReceiveBankInterestRequest r;
    r.set_region_code(lc.region);
    r.set_bank_account(BankAccounts().at(fa.account));
    r.set_amount_fen(*fen);
    r.set_date(lc.date);
    r.set_document_ref(lc.ref);
    return RunCommand<v1::FundService>(server, "bank interest received", r,
                                       &v1::FundService::Stub::ReceiveBankInterest);
  }
  if (funds_statement->parsed()) {
    auto fen = SignedYuanOption("--balance", fa.balance);
    if (!fen.ok()) return Fail(std::string(fen.status().message()));
    v1::ReportBankBalanceRequest r;
    r.set_region_code(lc.region);
    r.set_bank_account(BankAccounts().at(fa.account));
    r.set_balance_fen(*fen);
    r.set_date(lc.date);
    r.set_document_ref(lc.ref);
    return RunCommand<v1::FundService>(server, "bank balance reported", r,
                                       &v1::FundService::Stub::ReportBankBalance);
  }
  if (funds_balance->parsed()) {
    v1::GetFundBalanceRequest r;
    r.set_region_code(lc.region);
    r.set_bank_account(BankAccounts().at(fa.account));
    r.set_as_of_date(fa.as_of);
    return FundBalance(server, r);
  }
  if (tax_totals->parsed()) {
    auto fen = YuanOption("--total", lc.amount);
    if (!fen.ok()) return Fail(std::string(fen.status().message()));
    v1::ReportDailyTotalsRequest r;
    r.set_region_code(lc.region);
    r.set_collection_date(lc.date);
    r.set_tax_office(fa.office);
    r.set_record_count(fa.count);
    r.set_total_fen(*fen);
    for (const std::string& receipt : fa.receipts) r.add_receipt_numbers(receipt);
    r.set_document_ref(lc.ref);
    return ReportDailyTotals(server, r);
  }
  if (recon->parsed()) {
    v1::ReconciliationRequest r;
    r.set_region_code(lc.region);
    r.set_from_date(fa.from);
    r.set_to_date(fa.to);
    r.set_tax_office(fa.office);
    return Reconcile(server, r, html_file);
  }
  if (subsidy_credit->parsed()) {
    auto fen = YuanOption("--amount", lc.amount);
    if (!fen.ok()) return Fail(std::string(fen.status().message()));
    v1::CreditCollectiveSubsidyRequest r;
    r.set_citizen_id(lc.id);
    r.set_contribution_year(lc.year);
    r.set_amount_fen(*fen);
    r.set_source(FundingSources().at(lc.source));
    r.set_payer(lc.payer);
    r.set_date(lc.date);
    r.set_document_ref(lc.ref);
    return RunCommand<v1::AccountService>(server, "subsidy credited", r,
                                          &v1::AccountService::Stub::CreditCollectiveSubsidy);
  }
  if (refund->parsed()) {
    v1::RefundContributionRequest r;
    r.set_receipt_number(lc.id);
    r.set_reason(RefundReasons().at(lc.refund_reason));
    r.set_date(lc.date);
    r.set_document_ref(lc.ref);
    return RunCommand<v1::AccountService>(server, "refunded", r,
                                          &v1::AccountService::Stub::RefundContribution);
  }
  if (benefit_determine->parsed()) {
    v1::DetermineBenefitRequest r;
    r.set_citizen_id(lc.id);
    r.set_date(lc.date);
    r.set_document_ref(lc.ref);
    return RunCommand<v1::AccountService>(server, "benefit determined", r,
                                          &v1::AccountService::Stub::DetermineBenefit);
  }
  if (benefit_suspend->parsed()) {
    v1::SuspendBenefitRequest r;
    r.set_citizen_id(lc.id);
    r.set_from_month(lc.month);
    r.set_reason(lc.reason_text);
    r.set_date(lc.date);
    r.set_document_ref(lc.ref);
    return RunCommand<v1::AccountService>(server, "benefit suspended", r,
                                          &v1::AccountService::Stub::SuspendBenefit);
  }
  if (benefit_resume->parsed()) {
    v1::ResumeBenefitRequest r;
    r.set_citizen_id(lc.id);
    r.set_month(lc.month);
    r.set_date(lc.date);
    r.set_document_ref(lc.ref);
    return RunCommand<v1::AccountService>(server, "benefit resumed", r,
                                          &v1::AccountService::Stub::ResumeBenefit);
  }
  if (death->parsed()) {
    v1::RecordDeathRequest r;
    r.set_citizen_id(lc.id);
    r.set_date_of_death(lc.date_of_death);
    r.set_date(lc.date);
    r.set_document_ref(lc.ref);
    return RunCommand<v1::AccountService>(server, "death recorded", r,
                                          &v1::AccountService::Stub::RecordDeath);
  }
  if (transfer_out->parsed()) {
    v1::TransferOutRequest r;
    r.set_citizen_id(lc.id);
    r.set_to_region(lc.to_region);
    r.set_date(lc.date);
    r.set_document_ref(lc.ref);
    return RunCommand<v1::AccountService>(server, "transferred out", r,
                                          &v1::AccountService::Stub::TransferOut);
  }
  if (transfer_in->parsed()) {
    v1::TransferInRequest r;
    r.set_citizen_id(lc.id);
    r.set_from_region(lc.from_region);
    r.set_to_region(lc.to_region);
    for (const std::string& text : lc.parts) {
      auto part = ParsePart(text);
      if (!part.ok()) return Fail(std::string(part.status().message()));
      *r.add_parts() = *part;
    }
    for (int y : lc.years) r.add_contribution_years(y);
    r.set_date(lc.date);
    r.set_document_ref(lc.ref);
    return RunCommand<v1::AccountService>(server, "transferred in", r,
                                          &v1::AccountService::Stub::TransferIn);
  }
  if (job_run->parsed()) {
    v1::JobRequest r;
    r.set_kind(JobKinds().at(lc.kind));
    r.set_region_code(lc.region);
    r.set_period(lc.year);
    r.set_date(lc.date);
    return RunJob(server, lc.kind, r);
  }
  if (statement->parsed()) return ShowStatement(server, lc.id, lc.year, lc.csv);
  if (export_log->parsed()) return Export(server, au.file, au.from, au.to, au.pubkey_out);
  if (verify->parsed()) return VerifyExportFile(au.file, au.pubkey);
  if (audit_chain->parsed()) return VerifyChain(server, au.from, au.to);
  if (audit_replay->parsed()) return ReplayCompare(server);
  if (audit_balance->parsed()) {
    v1::BalanceAsOfRequest r;
    r.set_citizen_id(au.id);
    r.set_ledger_account(au.account);
    r.set_as_of_sequence(au.sequence);
    r.set_as_of_date(au.date);
    return BalanceAsOf(server, r);
  }
  if (audit_events->parsed()) {
    v1::StreamEventsRequest r;
    r.set_from_sequence(au.from);
    r.set_to_sequence(au.to);
    r.set_citizen_id(au.id);
    r.set_event_type(au.type);
    r.set_region_code(au.region);
    return ListEvents(server, r, au.json);
  }
  if (rebuild->parsed()) {
    if (auto st = ledger::Ledger::RebuildProjections(data_dir); !st.ok()) {
      return Fail(std::string(st.ToString()));
    }
    std::cout << "projections rebuilt from the log in " << data_dir << "\n";
    return 0;
  }
  return kExitError;
}
