// The export file (ExportWriter) and its offline verification (VerifyExport),
// with every kind of tampering: flipped bytes, truncation, swapped or missing
// events, altered signatures and signed events, another key, bad magic, missing
// or misplaced checkpoints.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "ledger/audit.h"
#include "ledger/hash.h"
#include "ledger/store.h"
#include "ledger/strings.h"
#include "ledger/testing/audit_fixture.h"
#include "ledger/working_state.h"

namespace ledger::testing {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;

// ---------------------------------------------------------------------------------------------
// The export file.

// One record of an export file, located by offset.
struct ExportRecord {
  char type = 0;
  size_t offset = 0;         // of the type byte
  size_t payload_offset = 0; // of the payload
  uint32_t length = 0;
  uint64_t sequence = 0; // the event's, or the checkpoint's
};

std::vector<ExportRecord> ParseRecords(const std::string &file) {
  std::vector<ExportRecord> out;
  size_t at = kExportMagic.size();
  while (at + 5 <= file.size()) {
    ExportRecord r;
    r.type = file[at];
    r.offset = at;
    r.length = static_cast<uint32_t>(
        keys::DecodeU64(std::string(4, '\0') + file.substr(at + 1, 4)));
    r.payload_offset = at + 5;
    const std::string payload = file.substr(r.payload_offset, r.length);
    if (r.type == 'E') {
      v1::EventEnvelope e;
      EXPECT_TRUE(e.ParseFromString(payload));
      r.sequence = e.sequence();
    } else {
      v1::Checkpoint c;
      EXPECT_TRUE(c.ParseFromString(payload));
      r.sequence = c.sequence();
    }
    out.push_back(r);
    at = r.payload_offset + r.length;
  }
  EXPECT_EQ(at, file.size());
  return out;
}

std::string Record(char type, const std::string &payload) {
  return StrCat(std::string(1, type),
                keys::EncodeU32(static_cast<uint32_t>(payload.size())),
                payload);
}

ExportVerification Verify(const std::string &file,
                          const std::string &public_pem) {
  std::istringstream in(file, std::ios::binary);
  return VerifyExport(in, public_pem);
}

class ExportTest : public CheckpointLedgerTest {
protected:
  void SetUp() override {
    CheckpointLedgerTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(Build());
    ASSERT_NO_FATAL_FAILURE(WriteExport());
  }

  // Writes the whole log with ExportWriter, each checkpoint right after its
  // event, and reads the file back.
  void WriteExport(bool with_checkpoints = true) {
    const std::string path = dir_.string() + "_export";
    auto writer = ExportWriter::Create(path);
    ASSERT_TRUE(writer.ok()) << writer.status();
    auto checkpoints = ledger_->Checkpoints(0, 0);
    ASSERT_TRUE(checkpoints.ok());
    size_t next = 0;
    absl::Status written;
    ASSERT_TRUE(ledger_
                    ->ForEachEvent(
                        1, 0,
                        [&](uint64_t sequence, std::string_view stored) {
                          written.Update((*writer)->AddEvent(stored));
                          while (with_checkpoints &&
                                 next < checkpoints->size() &&
                                 (*checkpoints)[next].sequence() == sequence) {
                            written.Update((*writer)->AddCheckpoint(
                                (*checkpoints)[next++]));
                          }
                          return true;
                        })
                    .ok());
    ASSERT_TRUE(written.ok()) << written;
    ASSERT_TRUE((*writer)->Finish().ok());
    std::ifstream in(path, std::ios::binary);
    file_.assign(std::istreambuf_iterator<char>(in),
                 std::istreambuf_iterator<char>());
    records_ = ParseRecords(file_);
  }

  const ExportRecord &EventRecord(uint64_t sequence) const {
    for (const ExportRecord &r : records_) {
      if (r.type == 'E' && r.sequence == sequence)
        return r;
    }
    ADD_FAILURE() << "no event record " << sequence;
    return records_.front();
  }
  const ExportRecord &CheckpointRecord(uint64_t sequence) const {
    for (const ExportRecord &r : records_) {
      if (r.type == 'C' && r.sequence == sequence)
        return r;
    }
    ADD_FAILURE() << "no checkpoint record " << sequence;
    return records_.front();
  }
  std::string Payload(const ExportRecord &r) const {
    return file_.substr(r.payload_offset, r.length);
  }
  // The file with one record's payload replaced (its length header rewritten).
  std::string WithPayload(const ExportRecord &r,
                          const std::string &payload) const {
    return StrCat(file_.substr(0, r.offset), Record(r.type, payload),
                  file_.substr(r.payload_offset + r.length));
  }

  std::string file_;
  std::vector<ExportRecord> records_;
};

TEST_F(ExportTest, RoundTripVerifiesWithCounts) {
  ASSERT_EQ(file_.substr(0, kExportMagic.size()), kExportMagic);
  ASSERT_EQ(records_.size(), 23u + 4u);
  // Each checkpoint comes right after its event; events are in order.
  uint64_t last_event = 0;
  for (const ExportRecord &r : records_) {
    if (r.type == 'E') {
      EXPECT_EQ(r.sequence, last_event + 1);
      last_event = r.sequence;
    } else {
      EXPECT_EQ(r.sequence, last_event);
    }
  }
  // The event records hold the exact stored bytes.
  EXPECT_EQ(Payload(EventRecord(12)), StoredEvent(12));

  const ExportVerification v = Verify(file_, key_.public_pem);
  EXPECT_TRUE(v.ok) << v.bad_sequence << ": " << v.reason;
  EXPECT_EQ(v.events, 23u);
  EXPECT_EQ(v.first_sequence, 1u);
  EXPECT_EQ(v.last_sequence, 23u);
  EXPECT_EQ(v.checkpoints, 4u);
  EXPECT_EQ(v.last_signed_sequence,
            20u); // 21..23 are chained but not yet signed
  EXPECT_EQ(v.bad_sequence, 0u);

  // A file that ends right after a checkpoint verifies too (the tail is simply
  // shorter).
  const ExportRecord &c20 = CheckpointRecord(20);
  const ExportVerification cut =
      Verify(file_.substr(0, c20.payload_offset + c20.length), key_.public_pem);
  EXPECT_TRUE(cut.ok) << cut.reason;
  EXPECT_EQ(cut.last_sequence, 20u);
  EXPECT_EQ(cut.last_signed_sequence, 20u);
}

TEST_F(ExportTest, AFlippedByteInAnEventNamesThatEventOrTheNext) {
  const uint64_t k = 8; // not checkpointed (checkpoints: 6, 11, 18, 20)
  const ExportRecord &r = EventRecord(k);
  // (1) A flip in the middle of the payload, wherever it lands. If the damaged
  // bytes no longer decode, or the flip hit the sequence or prev_hash field,
  // event k itself is rejected (k); if it still decodes as an event k linking
  // to k-1 (e.g. a changed amount or actor byte), it is only caught when event
  // k+1 does not link to the hash of the damaged k (k+1).
  {
    std::string damaged = file_;
    damaged[r.payload_offset + r.length / 2] ^= 0x20;
    const ExportVerification v = Verify(damaged, key_.public_pem);
    EXPECT_FALSE(v.ok);
    EXPECT_THAT(v.bad_sequence, AnyOf(k, k + 1)) << v.reason;
    EXPECT_FALSE(v.reason.empty());
  }
  // (2) Deterministically "still decodes": one byte of the actor text changed →
  // k+1, and the reason says k+1 does not link to event k.
  {
    const std::string payload = Payload(r);
    const size_t actor_at = payload.find(kAuditActor);
    ASSERT_NE(actor_at, std::string::npos);
    std::string changed = payload;
    changed[actor_at + 3] ^= 0x01;
    v1::EventEnvelope e;
    ASSERT_TRUE(e.ParseFromString(changed));
    ASSERT_EQ(e.sequence(), k);
    std::string damaged = file_;
    damaged.replace(r.payload_offset, r.length, changed);
    const ExportVerification v = Verify(damaged, key_.public_pem);
    EXPECT_FALSE(v.ok);
    EXPECT_EQ(v.bad_sequence, k + 1) << v.reason;
    EXPECT_THAT(v.reason, HasSubstr(StrCat("hash of event ", k)));
  }
  // (3) Deterministically "no longer decodes": the first tag byte (field 1,
  // varint: 0x08) becomes wire type 7, which protobuf refuses → k.
  {
    ASSERT_EQ(file_[r.payload_offset], '\x08');
    std::string damaged = file_;
    damaged[r.payload_offset] = '\x0f';
    const ExportVerification v = Verify(damaged, key_.public_pem);
    EXPECT_FALSE(v.ok);
    EXPECT_EQ(v.bad_sequence, k) << v.reason;
    EXPECT_THAT(v.reason, HasSubstr("does not decode"));
  }
  // (4) A flip inside prev_hash → k itself does not link.
  {
    const std::string payload = Payload(r);
    v1::EventEnvelope e;
    ASSERT_TRUE(e.ParseFromString(payload));
    const size_t prev_at = payload.find(e.prev_hash());
    ASSERT_NE(prev_at, std::string::npos);
    std::string damaged = file_;
    damaged[r.payload_offset + prev_at + 5] ^= 0x80;
    const ExportVerification v = Verify(damaged, key_.public_pem);
    EXPECT_FALSE(v.ok);
    EXPECT_EQ(v.bad_sequence, k) << v.reason;
  }
}

TEST_F(ExportTest, TruncationMidRecordNamesTheCutEvent) {
  const ExportRecord &r = EventRecord(14);
  // Cut inside the payload.
  ExportVerification v =
      Verify(file_.substr(0, r.payload_offset + r.length / 2), key_.public_pem);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_sequence, 14u);
  EXPECT_THAT(v.reason, HasSubstr("truncated"));
  // Cut inside the record header.
  v = Verify(file_.substr(0, r.offset + 3), key_.public_pem);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_sequence, 14u);
  EXPECT_THAT(v.reason, HasSubstr("truncated"));
  // Cut inside a checkpoint record: the damage follows event 11.
  const ExportRecord &c = CheckpointRecord(11);
  v = Verify(file_.substr(0, c.payload_offset + 10), key_.public_pem);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_sequence, 12u);
  EXPECT_THAT(v.reason, HasSubstr("truncated"));
}

TEST_F(ExportTest, SwappedEventsNameTheFirstOutOfPlace) {
  const ExportRecord &a = EventRecord(7);
  const ExportRecord &b = EventRecord(8);
  ASSERT_EQ(a.payload_offset + a.length,
            b.offset); // adjacent, no checkpoint between
  const std::string swapped = StrCat(
      file_.substr(0, a.offset), Record('E', Payload(b)),
      Record('E', Payload(a)), file_.substr(b.payload_offset + b.length));
  ASSERT_EQ(swapped.size(), file_.size());
  const ExportVerification v = Verify(swapped, key_.public_pem);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_sequence, 7u);
  EXPECT_THAT(v.reason, HasSubstr("expected sequence 7, found 8"));

  // A missing event is named the same way.
  const std::string dropped = StrCat(file_.substr(0, a.offset),
                                     file_.substr(a.payload_offset + a.length));
  const ExportVerification gap = Verify(dropped, key_.public_pem);
  EXPECT_FALSE(gap.ok);
  EXPECT_EQ(gap.bad_sequence, 7u);
}

TEST_F(ExportTest, AFlippedSignatureByteFailsThatCheckpoint) {
  const ExportRecord &r = CheckpointRecord(11);
  v1::Checkpoint c;
  ASSERT_TRUE(c.ParseFromString(Payload(r)));
  c.mutable_signature()->at(0) ^= 0x01;
  const ExportVerification v =
      Verify(WithPayload(r, c.SerializeAsString()), key_.public_pem);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_sequence, 11u);
  EXPECT_THAT(v.reason, HasSubstr("does not verify"));
}

TEST_F(ExportTest, AnAlteredSignedEventFailsItsCheckpoint) {
  // Event 11 altered (amount changed, re-serialized: it decodes and links to
  // 10): the checkpoint right after it no longer matches its hash.
  {
    const ExportRecord &r = EventRecord(11);
    v1::EventEnvelope e;
    ASSERT_TRUE(e.ParseFromString(Payload(r)));
    ASSERT_TRUE(e.has_contribution_collected());
    e.mutable_contribution_collected()->set_amount_fen(
        e.contribution_collected().amount_fen() * 10);
    const ExportVerification v =
        Verify(WithPayload(r, SerializeDeterministic(e)), key_.public_pem);
    EXPECT_FALSE(v.ok);
    EXPECT_EQ(v.bad_sequence, 11u);
    EXPECT_THAT(v.reason, HasSubstr("checkpoint"));
  }
  // A forger who alters event 13 and re-chains every later event (recomputing
  // each prev_hash) gets a file whose hash chain is consistent: only the next
  // signed checkpoint (18) catches it.
  {
    std::string forged = file_.substr(0, kExportMagic.size());
    std::string prev;
    for (const ExportRecord &r : records_) {
      std::string payload = Payload(r);
      if (r.type == 'E') {
        v1::EventEnvelope e;
        ASSERT_TRUE(e.ParseFromString(payload));
        if (r.sequence == 13) {
          e.mutable_contribution_collected()->set_amount_fen(50000);
        }
        if (r.sequence > 13)
          e.set_prev_hash(prev);
        payload = SerializeDeterministic(e);
        prev = Sha256(payload);
      }
      forged += Record(r.type, payload);
    }
    ASSERT_NE(forged, file_);
    const ExportVerification v = Verify(forged, key_.public_pem);
    EXPECT_FALSE(v.ok);
    EXPECT_EQ(v.bad_sequence, 18u);
    EXPECT_THAT(v.reason,
                HasSubstr("event 18 does not hash to the signed checkpoint"));
  }
}

TEST_F(ExportTest, ADifferentPublicKeyFailsTheFirstCheckpoint) {
  const ExportVerification v = Verify(file_, GenerateKey().public_pem);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_sequence, 6u);
  EXPECT_THAT(v.reason, HasSubstr("does not verify"));
  const ExportVerification not_a_key = Verify(file_, "not a key");
  EXPECT_FALSE(not_a_key.ok);
  EXPECT_EQ(not_a_key.bad_sequence, 6u);
}

TEST_F(ExportTest, EmptyFileAndBadMagicAreRejected) {
  for (const std::string &bad :
       {std::string(), std::string("LEDGER-EXP"),
        StrCat("LEDGER-EXPORT-2\n", file_.substr(kExportMagic.size())),
        StrCat("X", file_.substr(1))}) {
    const ExportVerification v = Verify(bad, key_.public_pem);
    EXPECT_FALSE(v.ok) << bad.size();
    EXPECT_EQ(v.bad_sequence, 0u);
    EXPECT_THAT(v.reason, HasSubstr("magic"));
  }
  // The magic alone: no events.
  const ExportVerification only_magic =
      Verify(std::string(kExportMagic), key_.public_pem);
  EXPECT_FALSE(only_magic.ok);
  EXPECT_THAT(only_magic.reason, HasSubstr("no events"));
  // An unknown record type after event 3.
  const ExportRecord &r = EventRecord(3);
  std::string unknown = file_;
  unknown[r.payload_offset + r.length] = 'Z';
  const ExportVerification v = Verify(unknown, key_.public_pem);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_sequence, 4u);
}

TEST_F(ExportTest, EventsWithoutACheckpointAreNotVerified) {
  ASSERT_NO_FATAL_FAILURE(WriteExport(/*with_checkpoints=*/false));
  ASSERT_EQ(records_.size(), 23u);
  const ExportVerification v = Verify(file_, key_.public_pem);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_sequence, 0u);
  EXPECT_EQ(v.events, 23u); // the chain itself verified
  EXPECT_THAT(v.reason, HasSubstr("no signed checkpoint"));
}

TEST_F(ExportTest, ACheckpointOutOfPlaceIsRejected) {
  // Checkpoint 11 moved after event 12.
  const ExportRecord &c = CheckpointRecord(11);
  const ExportRecord &e12 = EventRecord(12);
  ASSERT_EQ(c.payload_offset + c.length, e12.offset);
  const std::string moved = StrCat(
      file_.substr(0, c.offset), Record('E', Payload(e12)),
      Record('C', Payload(c)), file_.substr(e12.payload_offset + e12.length));
  const ExportVerification v = Verify(moved, key_.public_pem);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_sequence, 11u);
  EXPECT_THAT(v.reason, HasSubstr("not right after its event"));
}

} // namespace
} // namespace ledger::testing
