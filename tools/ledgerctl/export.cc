// `ledgerctl export|verify`: the auditor's copy of the signed log (ledger/audit.h's export file)
// and its offline verification. A verification that finds damage exits 2.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "ledger/audit.h"
#include "ledger/strings.h"
#include "tools/ledgerctl/client.h"
#include "tools/ledgerctl/commands.h"

namespace ledgerctl {
namespace {

namespace v1 = ledger::v1;
using ledger::StrCat;

struct Options {
  std::string file, pubkey, pubkey_out;
  uint64_t from = 1, to = 0;
};

struct ExportCounts {
  uint64_t events = 0, first = 0, last = 0, checkpoints = 0;
};

// Appends `event` and every event after it on `reader` to `writer`, each signed checkpoint right
// after the event it signs. The error names what went wrong (a gap, a write to `file`).
absl::Status WriteEvents(grpc::ClientReader<v1::AuditEvent>& reader, v1::AuditEvent& event,
                         const v1::Checkpoints& checkpoints, const std::string& file,
                         ledger::ExportWriter& writer, ExportCounts& counts) {
  int next_checkpoint = 0;
  const int checkpoint_count = checkpoints.checkpoints_size();
  do {
    const uint64_t sequence = event.event().sequence();
    if (counts.events > 0 && sequence != counts.last + 1) {
      return absl::DataLossError(
          StrCat("the server sent sequence ", sequence, " after ", counts.last));
    }
    if (auto st = writer.AddEvent(event.stored()); !st.ok()) {
      return absl::InternalError(StrCat(file, ": ", std::string(st.message())));
    }
    if (counts.events++ == 0) counts.first = sequence;
    counts.last = sequence;
    while (next_checkpoint < checkpoint_count &&
           checkpoints.checkpoints(next_checkpoint).sequence() <= sequence) {
      const v1::Checkpoint& c = checkpoints.checkpoints(next_checkpoint++);
      if (c.sequence() != sequence) continue;  // signs an event before the range
      if (auto st = writer.AddCheckpoint(c); !st.ok()) {
        return absl::InternalError(StrCat(file, ": ", std::string(st.message())));
      }
      ++counts.checkpoints;
    }
  } while (reader.Read(&event));
  return absl::OkStatus();
}

// The summary line, the unsigned-export warning and, if asked, the server's public key.
int ReportExport(const Options& o, const ExportCounts& counts, const v1::Checkpoints& checkpoints) {
  std::error_code error;
  const uintmax_t bytes = std::filesystem::file_size(o.file, error);
  std::printf("exported events=%llu first=%llu last=%llu checkpoints=%llu bytes=%llu\n",
              static_cast<unsigned long long>(counts.events),
              static_cast<unsigned long long>(counts.first),
              static_cast<unsigned long long>(counts.last),
              static_cast<unsigned long long>(counts.checkpoints),
              static_cast<unsigned long long>(error ? 0 : bytes));
  if (counts.checkpoints == 0) {
    std::fprintf(stderr,
                 "warning: no signed checkpoint in the range (does the server sign with "
                 "--checkpoint-key?): the export will not verify\n");
  }
  if (o.pubkey_out.empty()) return 0;
  if (checkpoints.public_key_pem().empty()) {
    return Fail("the server has no checkpoint key: no public key to write");
  }
  std::ofstream out(o.pubkey_out, std::ios::binary | std::ios::trunc);
  out << checkpoints.public_key_pem();
  out.close();
  if (!out) return Fail(StrCat("cannot write ", o.pubkey_out));
  std::printf("server public key written to %s\n", o.pubkey_out.c_str());
  return 0;
}

// Streams events [from, to] (to = 0: the head when the stream starts) into an export file
// (ledger/audit.h): each event's stored bytes in order, each signed checkpoint right after the
// event it signs.
int Export(const Globals& globals, const Options& o) {
  auto writer = ledger::ExportWriter::Create(o.file);
  if (!writer.ok()) return Fail(std::string(writer.status().message()));
  Rpc rpc(globals, ledger::kClientStreamDeadlineSeconds);
  v1::StreamEventsRequest request;
  request.set_from_sequence(o.from);
  request.set_to_sequence(o.to);
  auto reader = rpc.Stub<v1::AuditService>()->StreamEvents(rpc.context(), request);
  auto remove_file = [&] {
    std::error_code ignored;
    std::filesystem::remove(o.file, ignored);
  };
  // An export that stops early is removed: a prefix of the log would verify as a shorter export.
  auto abandon = [&](int exit_code) {
    rpc.context()->TryCancel();
    (void)reader->Finish();
    remove_file();
    return exit_code;
  };
  v1::AuditEvent event;
  // The server fixes the stream's last event when the call starts, and a checkpoint is committed
  // in the same write as the event it signs: once the first event has arrived, every checkpoint
  // the stream can reach is stored. Checkpoints past the stream's end are not written.
  if (!reader->Read(&event)) {
    const grpc::Status st = reader->Finish();
    remove_file();
    return st.ok() ? Fail("the server streamed no events") : rpc.Failed(st);
  }
  v1::GetCheckpointsRequest checkpoints_request;
  checkpoints_request.set_from_sequence(o.from);
  checkpoints_request.set_to_sequence(o.to);
  v1::Checkpoints checkpoints;
  if (int rc =
          CallUnary(rpc.channel(), &v1::AuditService::Stub::GetCheckpoints, checkpoints_request,
                    [&](const v1::Checkpoints& c) {
                      checkpoints = c;
                      return 0;
                    });
      rc != 0) {
    return abandon(rc);
  }
  ExportCounts counts;
  if (auto st = WriteEvents(*reader, event, checkpoints, o.file, **writer, counts); !st.ok()) {
    return abandon(Fail(std::string(st.message())));
  }
  if (grpc::Status st = reader->Finish(); !st.ok()) {
    remove_file();
    return rpc.Failed(st);
  }
  if (auto st = (*writer)->Finish(); !st.ok()) {
    return Fail(StrCat(o.file, ": ", std::string(st.message())));
  }
  return ReportExport(o, counts, checkpoints);
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

}  // namespace

void RegisterExportCommands(CLI::App& app, Commands& commands) {
  auto o = std::make_shared<Options>();
  auto* export_log = app.add_subcommand(
      "export",
      "write the event log and its signed checkpoints to a file for offline verification");
  export_log->add_option("file", o->file, "export file to write (replaced if it exists)")
      ->required();
  AddSequenceRange(export_log, o->from, o->to, "to export");
  export_log->add_option("--pubkey-out", o->pubkey_out,
                         "also write the server's checkpoint public key (PEM) to this file");
  commands.On(export_log, [&g = commands.globals(), o] { return Export(g, *o); });

  auto* verify = app.add_subcommand(
      "verify",
      "offline: verify an export's hash chain and checkpoint signatures (exit 2: damaged)");
  verify->add_option("file", o->file, "export file")->required();
  verify
      ->add_option("--pubkey", o->pubkey, "the deployment's published checkpoint public key (PEM)")
      ->required();
  commands.On(verify, [o] { return VerifyExportFile(o->file, o->pubkey); });
}

}  // namespace ledgerctl
