// Named maxima for everything a caller can send or the ledger can hold in one go.
// Every bound in the system is one of these; services/ and tools/ use them, never literals.
#ifndef LEDGER_LIMITS_H_
#define LEDGER_LIMITS_H_

#include <cstddef>
#include <cstdint>

namespace ledger {

// Records in one PushCollections request or one message of a StreamCollections stream.
inline constexpr size_t kBatchRecordsMax = 10'000;
// Records in one StreamCollections stream: bounds the single response it returns.
inline constexpr size_t kStreamRecordsMax = 100'000;
// Records validated and committed in one WriteBatch (one fsync) by the group-commit writer.
inline constexpr size_t kCommitRecordsMax = 20'000;
// Commands waiting for the writer; callers block (back-pressure) beyond this.
inline constexpr size_t kWriterQueueCommandsMax = 1'024;
// Events applied per WriteBatch when rebuilding projections from the log.
// Each batch keeps the accounts it touches in memory: larger batches rewrite an account less often.
inline constexpr size_t kReplayEventsPerBatchMax = 100'000;

// What one caller can send the server (enforced in services/).
// Largest request message; a full kBatchRecordsMax batch is about 1.5 MiB.
inline constexpr int kReceiveMessageBytesMax = 16 * 1024 * 1024;
// StreamCollections streams in progress at once, server-wide; one more is RESOURCE_EXHAUSTED.
inline constexpr int kConcurrentStreamsMax = 64;
// Messages of one collection stream queued for the writer at once: the next message is received
// while these are validated and committed.
inline constexpr size_t kStreamPipelineDepth = 2;
// HTTP/2 streams (concurrent calls) per client connection.
inline constexpr int kStreamsPerConnectionMax = 128;
// How long one StreamCollections stream may stay open; then DEADLINE_EXCEEDED (what was
// committed stays committed).
inline constexpr int kStreamDurationSecondsMax = 600;
// Deadlines ledgerctl sets on its calls.
inline constexpr int kClientUnaryDeadlineSeconds = 30;
inline constexpr int kClientStreamDeadlineSeconds = kStreamDurationSecondsMax;

// Text fields, in bytes of UTF-8.
inline constexpr size_t kReceiptNumberBytesMax = 40;
inline constexpr size_t kNameBytesMax = 64;
inline constexpr size_t kTaxOfficeBytesMax = 32;
inline constexpr size_t kBatchIdBytesMax = 64;
inline constexpr size_t kEthnicityBytesMax = 32;
inline constexpr size_t kAddressBytesMax = 256;
inline constexpr size_t kPhoneBytesMax = 32;
inline constexpr size_t kActorBytesMax = 256;

// A single amount: 100 million yuan. Far above any tier; keeps every sum of a batch (and of
// a person's lifetime) far inside int64.
inline constexpr int64_t kAmountFenMax = 10'000'000'000;
// Fiscal funds received in one transfer from the treasury: 1 trillion yuan.
inline constexpr int64_t kFiscalAmountFenMax = 100'000'000'000'000;
// Receipts in one tax daily totals report (one collection date and tax office).
inline constexpr size_t kDailyTotalsReceiptsMax = 100'000;
// Any one ledger account's balance (either sign): 10 quadrillion yuan. A fund command that would
// take an account beyond it is refused (OVER_CAP), so no sum of balances can overflow int64.
inline constexpr int64_t kLedgerBalanceFenMax = 1'000'000'000'000'000'000;
// A lifecycle command's document reference (the agency's document number), printable ASCII.
inline constexpr size_t kDocumentRefBytesMax = 64;
// RocksDB's memory, whatever the size of the ledger: one block cache shared by every column
// family, holding data blocks and also every SST's index and bloom filter (which would otherwise
// stay in memory for each open file and grow with the data), and the memtables of all column
// families together. ledgerd's RSS stays near the sum of the two plus gRPC.
inline constexpr size_t kBlockCacheBytes = 320u << 20;
inline constexpr size_t kMemtableBytesMax = 128u << 20;
// A clean close flushes the memtables when they hold more than this, so the next open (a restart,
// an offline rebuild) replays at most this much of the WAL into memtables on its own thread.
inline constexpr size_t kCloseFlushBytesMin = 8u << 20;
// Accounts a batch job (subsidy, interest, benefits) processes per commit.
inline constexpr size_t kJobChunkAccountsMax = 10'000;
// Policy documents.
inline constexpr size_t kPolicyYearsMax = 200;
inline constexpr size_t kPolicyTiersMax = 64;
inline constexpr uint32_t kInterestRateBpMax = 10'000;

// The residents' scheme's predecessor (新农保) started in 2009: no contribution year is earlier.
inline constexpr int kFirstContributionYear = 2009;
// Back-paid (补缴) contribution years an account may hold in total (国发〔2014〕8号 §七:
// "累计不超过15年"); a further back payment goes to suspense.
inline constexpr int kBackPaymentYearsMax = 15;

static_assert(kJobChunkAccountsMax <= kCommitRecordsMax);
static_assert(kBatchRecordsMax <= kCommitRecordsMax,
              "a request is never split across commits");
static_assert(kStreamRecordsMax % kBatchRecordsMax == 0);
static_assert(kAmountFenMax * static_cast<int64_t>(kCommitRecordsMax) < INT64_MAX / 1000,
              "sums of a commit cannot overflow");

}  // namespace ledger

#endif  // LEDGER_LIMITS_H_
