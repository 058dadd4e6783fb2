// ledgerctl: the operator's command line for the pension ledger.
//
// Exit codes: 0 success; 1 error (connection, file, rejected command); 3 an import finished but
// some rows were rejected (each is printed with its line number).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <sstream>

#include <google/protobuf/util/json_util.h>

#include "CLI/CLI.hpp"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "ledger/hash.h"
#include "ledger/ledger.h"
#include "ledger/limits.h"
#include "ledger/money.h"
#include "ledger/policy.h"
#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "tools/collection_csv.h"

namespace {

namespace v1 = ledger::v1;
using ledger::StrCat;

constexpr int kExitError = 1;
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

std::string SourceName(v1::FundingSource source) {
  switch (source) {
    case v1::FUNDING_SOURCE_PERSONAL: return "personal";
    case v1::FUNDING_SOURCE_GOVERNMENT: return "government";
    case v1::FUNDING_SOURCE_COLLECTIVE: return "collective";
    case v1::FUNDING_SOURCE_SPONSORSHIP: return "sponsorship";
    case v1::FUNDING_SOURCE_TRANSFER_IN: return "transfer_in";
    default: return "unspecified";
  }
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
  std::printf("%-20s%14s %14s\n", "balance by source", "principal", "interest");
  for (const auto& b : a.balances()) {
    std::printf("  %-18s%14s %14s\n", SourceName(b.source()).c_str(),
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
    if (o.outcome() == v1::OUTCOME_REJECTED) {
      ReportRejected(totals, StrCat("line ", lines[o.index()], ": ", v1::Reason_Name(o.reason()),
                                    ": ", o.detail()));
    }
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

// grpc.health.v1.Health/Check for the whole server. The messages are tiny and the health proto
// is not shipped by Debian, so they are encoded by hand: the request is empty; the response's
// field 1 is the status (1 SERVING, 2 NOT_SERVING).
int Health(const std::string& server) {
  grpc::GenericStub stub(Connect(server));
  grpc::ClientContext context;
  SetDeadline(context, 5);
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1), response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&](grpc::Status st) { done.set_value(st); });
  const grpc::Status st = done.get_future().get();
  if (!st.ok()) return RpcFail(context, st);
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (response.Dump(&slices).ok()) {
    for (const auto& slice : slices) bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  const bool serving = bytes == std::string("\x08\x01", 2);
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
  if (rebuild->parsed()) {
    if (auto st = ledger::Ledger::RebuildProjections(data_dir); !st.ok()) {
      return Fail(std::string(st.ToString()));
    }
    std::cout << "projections rebuilt from the log in " << data_dir << "\n";
    return 0;
  }
  return kExitError;
}
