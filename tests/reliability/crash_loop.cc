// Crash loop (issue 7, "Reliability"): the real ledgerd binary on a temporary data directory,
// killed with SIGKILL at random moments while several tax-bureau clients push collections, and
// restarted each time.
//
// The clients push through CollectionService (mostly client streams of 1-4 messages, some unary
// pushes). A message is the unit of retry: when a call fails (the server died under it, or is
// still starting), every message of that call goes back to the client's queue unchanged and is
// resent, with the same receipt numbers, until a response acknowledges it. Clients also cancel
// (撤销) some acknowledged receipts, and now and then resend records already acknowledged.
//
// After the kills, with the server up again, the clients drain their queues. Then:
//  - every record is acknowledged, and its receipt is in the log exactly once (AuditService.
//    StreamEvents), at the sequence its acknowledgement named, with the content the client sent;
//    no event names a receipt nobody sent, and the log holds nothing else;
//  - a record that had been committed before a kill came back DUPLICATE with that original
//    sequence (never a second credit); a resend of an acknowledged record is DUPLICATE with its
//    acknowledged sequence;
//  - no message is partly applied: the events of every message are one run of consecutive
//    sequences, in message order, whichever attempt committed it;
//  - every enrolled participant's account holds exactly the credited, uncancelled receipts, and
//    the region's ledger balances (FundService.GetLedgerBalances) are the sums of what was
//    acknowledged, and add up to zero;
//  - the chain verifies and replay equals live, over gRPC and with `ledgerctl audit verify-chain`
//    and `ledgerctl audit replay`;
//  - after a clean stop, `ledgerctl rebuild` offline, and a restart, the head, balances and
//    accounts are what they were, and replay still equals.
//
//   ledger_crash_loop --ledgerd PATH --ledgerctl PATH --source-dir DIR
// Environment: LEDGER_CRASH_SEED (the run's seed; printed first, so a failure can be replayed),
// LEDGER_CRASH_KILLS (kills while serving, default 30; about one in six more land during
// start-up), LEDGER_CRASH_CLIENTS (default 4), LEDGER_CRASH_KEEP=1 (keep the temp directory).
// Prints one summary line ending in PASS, or lines starting "FAIL: " and exits 1.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "ledger/citizen_id.h"
#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "tests/support/fixtures.h"

namespace {

namespace v1 = ledger::v1;
using ledger::StrCat;
using namespace ::ledger::testing;  // NOLINT: the shared test fixtures
using Clock = std::chrono::steady_clock;

// Participants enrolled at the start; each client owns kPersonsPerClient of them, and pushes one
// credited receipt for each of their years 2014..2025.
constexpr int kPersonsPerClient = 4;
constexpr int kFirstYear = 2014;
constexpr int kLastYear = 2025;
// New records each client makes at most (then it only resends what is acknowledged).
constexpr int kNewRecordsPerClient = 20'000;
// Pace of new records while the server is up.
constexpr size_t kRecordsPerSecondPerClient = 600;
constexpr int64_t kTiers[] = {10000, 20000, 50000, 100000, 200000};

std::mutex g_print_mu;
std::atomic<int> g_failures{0};
// Clients that have made all their new records (then a kill hits no new writes).
std::atomic<int> g_clients_done_fresh{0};

template <typename... Args>
void Say(const Args&... args) {
  static_assert((!std::is_floating_point_v<Args> && ...), "format floating point with Fixed()");
  std::lock_guard lock(g_print_mu);
  std::printf("%s\n", StrCat(args...).c_str());
  std::fflush(stdout);
}

template <typename... Args>
void Fail(const Args&... args) {
  if (g_failures.fetch_add(1) < 30) Say("FAIL: ", args...);
}

// StrCat takes no floating point (a double would convert to char): format it here.
std::string Fixed(double v, int decimals = 2) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, v);
  return buffer;
}

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string Status(const grpc::Status& s) {
  return StrCat("code ", static_cast<int>(s.error_code()), ": ", s.error_message());
}

// Enrolled participant p: born in 1955-1966.
std::string PersonId(int p) {
  char birth[16];
  std::snprintf(birth, sizeof birth, "%04d%02d%02d", 1955 + p % 12, 1 + p % 12, 1 + p % 28);
  return CitizenId(birth, 100 + p);
}

// A payer who is not enrolled, for n in [0, 9'999'999].
std::string StrangerId(int n) { return NumberedCitizenId(n); }

// --- processes ---------------------------------------------------------------------------------

std::vector<char*> Argv(std::vector<std::string>& args) {
  std::vector<char*> out;
  for (std::string& a : args) out.push_back(a.data());
  out.push_back(nullptr);
  return out;
}

// Starts `args` with stdout and stderr appended to `log_path`. The child dies with this process.
pid_t Spawn(std::vector<std::string> args, const std::string& log_path) {
  std::vector<char*> argv = Argv(args);
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

struct CommandOutput {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs `args` to completion and returns its exit code and output.
CommandOutput Run(std::vector<std::string> args) {
  std::vector<char*> argv = Argv(args);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  CommandOutput out;
  char buffer[4096];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    out.output.append(buffer, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

// A free loopback port below the kernel's ephemeral range (gRPC clients use that range).
int FreePort(std::mt19937_64& rng) {
  for (int attempt = 0; attempt < 500; ++attempt) {
    const int port = 20000 + static_cast<int>(rng() % 12768);
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    if (ok) return port;
  }
  return 0;
}

std::shared_ptr<grpc::Channel> NewChannel(int port) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 100);
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  return grpc::CreateCustomChannel(StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(),
                                   args);
}

// ledgerd on its data directory, started and killed over and over.
class Server {
 public:
  Server(std::string ledgerd, std::string work, std::mt19937_64& rng)
      : ledgerd_(std::move(ledgerd)), work_(std::move(work)), rng_(rng) {
    port_ = FreePort(rng_);
  }
  ~Server() {
    if (pid_ > 0) Kill();
  }

  int port() const { return port_.load(); }
  const std::atomic<int>& port_ref() const { return port_; }
  std::string data_dir() const { return work_ + "/data"; }
  std::string log_path() const { return work_ + "/ledgerd.log"; }

  void Start() {
    {
      std::ofstream log(log_path(), std::ios::app);
      log << "=== crash_loop: start #" << ++starts_ << " on port " << port_.load() << "\n";
    }
    pid_ =
        Spawn({ledgerd_, "--data-dir", data_dir(), "--listen", StrCat("127.0.0.1:", port_.load()),
               "--insecure-plaintext", "--metrics-listen", ""},
              log_path());
  }

  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  // SIGTERM: a clean stop; returns the exit code (128 + signal if killed by one).
  int Stop() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  // Waits until ledgerd answers ledger calls (anything but UNAVAILABLE: its log is verified and
  // it serves). If it exits first because its port was taken, moves to another port and starts
  // again. False (with the reason) if it exits otherwise or does not serve in time.
  bool WaitServing(std::string* why, double timeout_s = 30) {
    const auto start = Clock::now();
    for (;;) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        const std::string tail = LogTail(5);
        if (tail.find("cannot listen") != std::string::npos && ++port_moves_ < 5) {
          port_ = FreePort(rng_);
          Start();
          continue;
        }
        *why = StrCat("ledgerd exited (status ", status, ") before serving:\n", tail);
        return false;
      }
      if (SecondsSince(start) > timeout_s) {
        *why = StrCat("ledgerd not serving after ", Fixed(timeout_s, 0), " s:\n", LogTail(10));
        return false;
      }
      auto stub = v1::PolicyService::NewStub(NewChannel(port_.load()));
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
      v1::GetPolicyRequest request;
      request.set_region_code(kRegion);
      v1::Policy policy;
      const grpc::Status s = stub->GetPolicy(&context, request, &policy);
      if (s.error_code() != grpc::StatusCode::UNAVAILABLE &&
          s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  std::string LogTail(int lines) const {
    std::ifstream in(log_path());
    std::deque<std::string> tail;
    for (std::string line; std::getline(in, line);) {
      tail.push_back(line);
      if (tail.size() > static_cast<size_t>(lines)) tail.pop_front();
    }
    std::string out;
    for (const std::string& l : tail) out += "    " + l + "\n";
    return out;
  }

 private:
  const std::string ledgerd_;
  const std::string work_;
  std::mt19937_64& rng_;
  std::atomic<int> port_{0};
  pid_t pid_ = -1;
  int starts_ = 0;
  int port_moves_ = 0;
};

// --- the clients -------------------------------------------------------------------------------

struct Item {
  v1::CollectionRecord record;
  bool credited = false;        // an ADD for an enrolled participant: ACCEPTED, not suspense
  int cancels = -1;             // for a CANCEL: the index of the ADD it cancels
  int cancelled_by = -1;        // for an ADD: the index of its CANCEL, once made
  uint64_t sequence = 0;        // acknowledged sequence (0: not yet)
  bool in_failed_call = false;  // was in a call that failed before it was acknowledged
};

struct Message {
  std::vector<int> items;
  bool resend = false;  // records already acknowledged, sent again to check the answer
};

struct ClientStats {
  uint64_t calls_ok = 0;
  uint64_t calls_failed = 0;
  uint64_t stream_calls = 0;
  uint64_t unary_calls = 0;
  uint64_t acknowledged = 0;
  uint64_t duplicates = 0;            // DUPLICATE outcomes seen
  uint64_t recovered_duplicates = 0;  // first acknowledgement was DUPLICATE after a failed call
  uint64_t resends_checked = 0;       // resends of acknowledged records answered DUPLICATE
  uint64_t messages_retried = 0;
};

class Client {
 public:
  Client(int id, uint64_t seed, const std::atomic<int>& port) : id_(id), rng_(seed), port_(port) {
    for (int p = 0; p < kPersonsPerClient; ++p) {
      for (int y = kFirstYear; y <= kLastYear; ++y) person_years_.emplace_back(p, y);
    }
    std::shuffle(person_years_.begin(), person_years_.end(), rng_);
  }

  // Pushes until `stop`; then drains its queue (every message acknowledged) and returns.
  void Run(const std::atomic<bool>& stop) {
    const auto drain_deadline_after_stop = std::chrono::seconds(60);
    Clock::time_point stopped_at{};
    for (;;) {
      const bool draining = stop.load();
      if (draining && stopped_at == Clock::time_point{}) stopped_at = Clock::now();
      if (draining && retry_.empty()) return;
      if (draining && Clock::now() - stopped_at > drain_deadline_after_stop) {
        Fail("client ", id_, ": ", retry_.size(), " messages still unacknowledged after ",
             "draining for 60 s");
        return;
      }
      if (!HasFreshWork() && !counted_done_) {
        counted_done_ = true;
        g_clients_done_fresh.fetch_add(1);
      }
      if (!draining && retry_.empty() && !HasFreshWork()) {
        // Nothing new to send: resend some acknowledged records now and then.
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (rng_() % 4 == 0) Call({ResendMessage()}, false);
        continue;
      }
      std::vector<Message> messages;
      const bool unary = rng_() % 5 == 0;
      const size_t want = unary ? 1 : 1 + rng_() % 4;
      while (messages.size() < want && !retry_.empty()) {
        messages.push_back(std::move(retry_.front()));
        retry_.pop_front();
        ++stats_.messages_retried;
      }
      while (!draining && messages.size() < want && HasFreshWork()) {
        messages.push_back(FreshMessage());
      }
      if (!unary && !draining && acknowledged_.size() > 20 && rng_() % 8 == 0) {
        messages.push_back(ResendMessage());
      }
      if (messages.empty()) continue;
      // Paced to about kRecordsPerSecondPerClient, so new records keep arriving through every
      // kill of the loop (and the log, which ledgerd re-hashes at each start, stays small).
      const auto call_start = Clock::now();
      size_t records = 0;
      for (const Message& m : messages) records += m.items.size();
      if (Call(std::move(messages), unary) && !draining) {
        std::this_thread::sleep_until(
            call_start +
            std::chrono::microseconds(records * 1'000'000 / kRecordsPerSecondPerClient));
      }
    }
  }

  // Closes the client's connection (ledgerd's clean stop waits for connections to close).
  void Disconnect() { channel_.reset(); }

  const std::vector<Item>& items() const { return items_; }
  const std::vector<Message>& fresh_messages() const { return fresh_; }
  const ClientStats& stats() const { return stats_; }
  int id() const { return id_; }
  std::string Person(int p) const { return PersonId(id_ * kPersonsPerClient + p); }

 private:
  bool HasFreshWork() const { return made_ < kNewRecordsPerClient || !cancellable_.empty(); }

  int NewItem(Item item) {
    items_.push_back(std::move(item));
    return static_cast<int>(items_.size() - 1);
  }

  v1::CollectionRecord Record(std::string receipt, std::string citizen_id, int year, int64_t fen,
                              std::string date) {
    v1::CollectionRecord r;
    r.set_record_type(v1::RECORD_TYPE_ADD);
    r.set_receipt_number(std::move(receipt));
    r.set_citizen_id(std::move(citizen_id));
    r.set_name("崔明浩");
    r.set_region_code(kRegion);
    r.set_contribution_year(year);
    r.set_amount_fen(fen);
    r.set_collection_date(std::move(date));
    r.set_tax_office("12224010000");
    r.set_batch_id(StrCat("CRASH-", id_));
    return r;
  }

  Message FreshMessage() {
    Message m;
    const size_t n = 5 + rng_() % 76;
    while (m.items.size() < n) {
      if (!cancellable_.empty() && (made_ >= kNewRecordsPerClient || rng_() % 100 < 3)) {
        // Cancel (撤销) an acknowledged receipt, dated ten days after it.
        const size_t pick = rng_() % cancellable_.size();
        const int add = cancellable_[pick];
        cancellable_[pick] = cancellable_.back();
        cancellable_.pop_back();
        Item cancel;
        cancel.record = items_[add].record;
        cancel.record.set_record_type(v1::RECORD_TYPE_CANCEL);
        const std::string& date = items_[add].record.collection_date();
        cancel.record.set_collection_date(date.substr(0, 8) + "25");
        cancel.record.set_batch_id(StrCat("CRASH-", id_, "-CANCEL"));
        cancel.cancels = add;
        const int index = NewItem(std::move(cancel));
        items_[add].cancelled_by = index;
        m.items.push_back(index);
        continue;
      }
      if (made_ >= kNewRecordsPerClient) break;
      char receipt[40];
      std::snprintf(receipt, sizeof receipt, "3222401%02d%09d", id_, made_);
      Item item;
      if (!person_years_.empty() && rng_() % 50 == 0) {
        const auto [p, year] = person_years_.back();
        person_years_.pop_back();
        item.record = Record(receipt, Person(p), year, kTiers[rng_() % 5],
                             StrCat(year, "-0", 1 + rng_() % 9, "-1", rng_() % 10));
        item.credited = true;
      } else {
        const int year = kFirstYear + static_cast<int>(rng_() % (kLastYear - kFirstYear + 1));
        item.record = Record(receipt, StrangerId(id_ * 1'000'000 + made_), year, kTiers[rng_() % 5],
                             StrCat(year, "-0", 1 + rng_() % 9, "-0", 1 + rng_() % 9));
      }
      ++made_;
      m.items.push_back(NewItem(std::move(item)));
    }
    fresh_.push_back(m);
    return m;
  }

  Message ResendMessage() {
    Message m;
    m.resend = true;
    const size_t n = 1 + rng_() % 20;
    for (size_t i = 0; i < n && !acknowledged_.empty(); ++i) {
      m.items.push_back(acknowledged_[rng_() % acknowledged_.size()]);
    }
    return m;
  }

  // One call; on success every record gets its outcome checked, on failure the fresh messages
  // go back to the front of the queue, unchanged, to be resent as they were.
  // True when the call was answered.
  bool Call(std::vector<Message> messages, bool unary) {
    if (channel_ == nullptr) channel_ = NewChannel(port_.load());
    auto stub = v1::CollectionService::NewStub(channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::PushCollectionsResponse response;
    grpc::Status status;
    size_t records = 0;
    auto fill = [&](const Message& m, v1::PushCollectionsRequest& request) {
      for (int i : m.items) *request.add_records() = items_[i].record;
      records += m.items.size();
    };
    if (unary) {
      ++stats_.unary_calls;
      v1::PushCollectionsRequest request;
      fill(messages.at(0), request);
      status = stub->PushCollections(&context, request, &response);
    } else {
      ++stats_.stream_calls;
      auto writer = stub->StreamCollections(&context, &response);
      for (const Message& m : messages) {
        v1::PushCollectionsRequest request;
        fill(m, request);
        if (!writer->Write(request)) break;
      }
      writer->WritesDone();
      status = writer->Finish();
    }
    if (!status.ok()) {
      ++stats_.calls_failed;
      for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
        if (it->resend) continue;
        for (int i : it->items) items_[i].in_failed_call = true;
        retry_.push_front(std::move(*it));
      }
      channel_.reset();  // reconnect (to the restarted server) on the next call
      std::this_thread::sleep_for(std::chrono::milliseconds(10 + rng_() % 40));
      return false;
    }
    ++stats_.calls_ok;
    if (static_cast<size_t>(response.outcomes_size()) != records) {
      Fail("client ", id_, ": ", response.outcomes_size(), " outcomes for ", records,
           " records sent");
      return true;
    }
    int k = 0;
    for (const Message& m : messages) {
      for (int i : m.items) {
        const v1::RecordOutcome& o = response.outcomes(k);
        if (o.index() != static_cast<uint32_t>(k)) {
          Fail("client ", id_, ": outcome ", k, " has index ", o.index());
        }
        ++k;
        Outcome(i, o, m.resend);
      }
    }
    return true;
  }

  void Outcome(int i, const v1::RecordOutcome& o, bool resend) {
    Item& item = items_[i];
    const std::string what = StrCat("client ", id_, " receipt ", item.record.receipt_number(),
                                    item.cancels >= 0 ? " (cancel)" : "");
    switch (o.outcome()) {
      case v1::OUTCOME_DUPLICATE:
        ++stats_.duplicates;
        if (item.sequence != 0) {
          if (o.sequence() != item.sequence) {
            Fail(what, ": DUPLICATE of sequence ", o.sequence(), " but it was acknowledged at ",
                 item.sequence);
          }
          if (resend) ++stats_.resends_checked;
          return;
        }
        if (!item.in_failed_call) {
          Fail(what, ": DUPLICATE (sequence ", o.sequence(), ") on its first sending");
        }
        ++stats_.recovered_duplicates;
        Acknowledge(i, o.sequence());
        return;
      case v1::OUTCOME_ACCEPTED:
      case v1::OUTCOME_SUSPENSE: {
        if (item.sequence != 0) {
          Fail(what, ": committed again at sequence ", o.sequence(), " (",
               v1::Outcome_Name(o.outcome()), "), already acknowledged at ", item.sequence);
          return;
        }
        const bool want_accepted = item.credited || item.cancels >= 0;
        if (want_accepted != (o.outcome() == v1::OUTCOME_ACCEPTED) ||
            (!want_accepted && o.suspense_reason() != v1::SUSPENSE_REASON_NOT_ENROLLED)) {
          Fail(what, ": unexpected ", v1::Outcome_Name(o.outcome()), " ",
               v1::SuspenseReason_Name(o.suspense_reason()));
        }
        if (o.sequence() == 0) Fail(what, ": committed without a sequence");
        Acknowledge(i, o.sequence());
        return;
      }
      default:
        Fail(what, ": ", v1::Outcome_Name(o.outcome()), " ", v1::Reason_Name(o.reason()), ": ",
             o.detail());
    }
  }

  void Acknowledge(int i, uint64_t sequence) {
    Item& item = items_[i];
    item.sequence = sequence;
    ++stats_.acknowledged;
    acknowledged_.push_back(i);
    if (item.cancels < 0 && rng_() % 100 < 4) cancellable_.push_back(i);
  }

  const int id_;
  std::mt19937_64 rng_;
  const std::atomic<int>& port_;
  std::shared_ptr<grpc::Channel> channel_;
  std::vector<std::pair<int, int>> person_years_;  // (person, year) not yet paid
  std::vector<Item> items_;
  std::vector<Message> fresh_;     // every fresh message, as first made
  std::deque<Message> retry_;      // messages of failed calls, to resend as they are
  std::vector<int> acknowledged_;  // items acknowledged
  std::vector<int> cancellable_;   // acknowledged ADDs picked to be cancelled
  int made_ = 0;
  bool counted_done_ = false;
  ClientStats stats_;
};

// --- checks ------------------------------------------------------------------------------------

struct LedgerView {
  uint64_t head = 0;
  std::map<std::string, int64_t> balances;
  std::map<std::string, std::string> accounts;  // citizen ID → serialized Account
};

bool ReadView(const std::shared_ptr<grpc::Channel>& channel,
              const std::vector<std::string>& persons, LedgerView* view) {
  auto audit = v1::AuditService::NewStub(channel);
  auto funds = v1::FundService::NewStub(channel);
  auto accounts = v1::AccountService::NewStub(channel);
  {
    grpc::ClientContext context;
    v1::VerifyChainRequest request;
    request.set_from_sequence(1);
    v1::VerifyChainResponse response;
    const grpc::Status s = audit->VerifyChain(&context, request, &response);
    if (!s.ok()) {
      Fail("VerifyChain: ", Status(s));
      return false;
    }
    if (!response.ok()) {
      Fail("the chain does not verify: first bad sequence ", response.first_bad_sequence(), ": ",
           response.reason());
    }
    view->head = response.to_sequence();
  }
  {
    grpc::ClientContext context;
    v1::GetLedgerBalancesRequest request;
    request.set_region_code(kRegion);
    v1::LedgerBalances response;
    const grpc::Status s = funds->GetLedgerBalances(&context, request, &response);
    if (!s.ok()) {
      Fail("GetLedgerBalances: ", Status(s));
      return false;
    }
    view->balances = {response.balances_fen().begin(), response.balances_fen().end()};
  }
  for (const std::string& id : persons) {
    grpc::ClientContext context;
    v1::GetAccountRequest request;
    request.set_citizen_id(id);
    v1::Account account;
    const grpc::Status s = accounts->GetAccount(&context, request, &account);
    if (!s.ok()) {
      Fail("GetAccount ", ledger::MaskCitizenId(id), ": ", Status(s));
      return false;
    }
    view->accounts[id] = account.SerializeAsString();
  }
  return true;
}

void ExpectReplayEqual(const std::shared_ptr<grpc::Channel>& channel, const char* when) {
  auto audit = v1::AuditService::NewStub(channel);
  grpc::ClientContext context;
  v1::ReplayCompareResponse response;
  const grpc::Status s = audit->ReplayCompare(&context, v1::ReplayCompareRequest(), &response);
  if (!s.ok()) {
    Fail("ReplayCompare ", when, ": ", Status(s));
  } else if (!response.equal()) {
    Fail("replay differs from the live projections ", when, ": ", response.first_difference());
  }
}

// Every record acknowledged once, at its sequence, with its content; every message one run of
// consecutive sequences; nothing else in the log; accounts and balances are the sums.
void CheckLog(const std::shared_ptr<grpc::Channel>& channel, const std::vector<Client*>& clients,
              int persons_enrolled, uint64_t* events_out) {
  struct Sent {
    const Item* item;
    const Client* client;
  };
  std::map<std::string, Sent> adds, cancels;
  for (const Client* c : clients) {
    for (const Item& item : c->items()) {
      auto& index = item.cancels >= 0 ? cancels : adds;
      if (!index.emplace(item.record.receipt_number(), Sent{&item, c}).second) {
        Fail("test bug: receipt ", item.record.receipt_number(), " made twice");
      }
      if (item.sequence == 0) {
        Fail("client ", c->id(), " receipt ", item.record.receipt_number(), " never acknowledged");
      }
    }
  }
  auto audit = v1::AuditService::NewStub(channel);
  grpc::ClientContext context;
  v1::StreamEventsRequest request;
  request.set_from_sequence(1);
  auto reader = audit->StreamEvents(&context, request);
  v1::AuditEvent event;
  uint64_t expected_sequence = 1;
  int policies = 0, enrolments = 0;
  std::map<std::string, uint64_t> collected_at, cancelled_at;
  while (reader->Read(&event)) {
    const v1::EventEnvelope& e = event.event();
    if (e.sequence() != expected_sequence) {
      Fail("the log skips from ", expected_sequence - 1, " to ", e.sequence());
    }
    expected_sequence = e.sequence() + 1;
    if (e.has_policy_adopted()) {
      ++policies;
    } else if (e.has_participant_enrolled()) {
      ++enrolments;
    } else if (e.has_contribution_collected()) {
      const auto& c = e.contribution_collected();
      auto it = adds.find(c.receipt_number());
      if (it == adds.end()) {
        Fail("event ", e.sequence(), " books receipt ", c.receipt_number(), " nobody sent");
        continue;
      }
      if (!collected_at.emplace(c.receipt_number(), e.sequence()).second) {
        Fail("receipt ", c.receipt_number(), " booked twice: sequences ",
             collected_at[c.receipt_number()], " and ", e.sequence());
      }
      const v1::CollectionRecord& r = it->second.item->record;
      if (c.citizen_id() != r.citizen_id() || c.amount_fen() != r.amount_fen() ||
          c.contribution_year() != r.contribution_year() ||
          c.collection_date() != r.collection_date() || c.name() != r.name() ||
          c.batch_id() != r.batch_id() || e.region_code() != r.region_code()) {
        Fail("event ", e.sequence(), " for receipt ", c.receipt_number(),
             " differs from what was sent");
      }
      if (it->second.item->sequence != e.sequence()) {
        Fail("receipt ", c.receipt_number(), " is at sequence ", e.sequence(),
             " but was acknowledged at ", it->second.item->sequence);
      }
    } else if (e.has_contribution_cancelled()) {
      const auto& c = e.contribution_cancelled();
      auto it = cancels.find(c.receipt_number());
      if (it == cancels.end()) {
        Fail("event ", e.sequence(), " cancels receipt ", c.receipt_number(), " nobody cancelled");
        continue;
      }
      if (!cancelled_at.emplace(c.receipt_number(), e.sequence()).second) {
        Fail("receipt ", c.receipt_number(), " cancelled twice");
      }
      if (it->second.item->sequence != e.sequence()) {
        Fail("cancellation of ", c.receipt_number(), " is at sequence ", e.sequence(),
             " but was acknowledged at ", it->second.item->sequence);
      }
      if (c.original_sequence() != collected_at[c.receipt_number()]) {
        Fail("cancellation of ", c.receipt_number(), " names original sequence ",
             c.original_sequence());
      }
    } else {
      Fail("unexpected event at sequence ", e.sequence(), ": ",
           e.ShortDebugString().substr(0, 200));
    }
  }
  const grpc::Status s = reader->Finish();
  if (!s.ok()) Fail("StreamEvents: ", Status(s));
  *events_out = expected_sequence - 1;
  // The demo policy file holds two versions (v1 from 2009, v2 from 2026-01-01).
  if (policies != 2 || enrolments != persons_enrolled) {
    Fail("the log holds ", policies, " policies and ", enrolments, " enrolments");
  }
  for (const auto& [receipt, sent] : adds) {
    if (!collected_at.contains(receipt))
      Fail("acknowledged receipt ", receipt, " is not in the log");
  }
  for (const auto& [receipt, sent] : cancels) {
    if (!cancelled_at.contains(receipt)) {
      Fail("acknowledged cancellation of ", receipt, " is not in the log");
    }
  }

  // No partly applied message: each is one run of consecutive sequences, in order.
  for (const Client* c : clients) {
    for (const Message& m : c->fresh_messages()) {
      for (size_t k = 1; k < m.items.size(); ++k) {
        const uint64_t prev = c->items()[m.items[k - 1]].sequence;
        const uint64_t seq = c->items()[m.items[k]].sequence;
        if (seq != prev + 1) {
          Fail("client ", c->id(), ": a message of ", m.items.size(),
               " records was not committed as one run: record ", k, " at ", seq, " after record ",
               k - 1, " at ", prev);
          break;
        }
      }
    }
  }

  // Accounts and ledger balances: the sums of what was acknowledged and not cancelled.
  int64_t receivable = 0, suspense = 0, personal = 0;
  std::map<std::string, std::map<std::string, int64_t>> account_receipts;  // id → receipt → fen
  for (const auto& [receipt, sent] : adds) {
    const Item& item = *sent.item;
    if (item.cancelled_by >= 0) continue;
    receivable += item.record.amount_fen();
    if (item.credited) {
      personal += item.record.amount_fen();
      account_receipts[item.record.citizen_id()][receipt] = item.record.amount_fen();
    } else {
      suspense += item.record.amount_fen();
    }
  }
  auto funds = v1::FundService::NewStub(channel);
  grpc::ClientContext bc;
  v1::GetLedgerBalancesRequest br;
  br.set_region_code(kRegion);
  v1::LedgerBalances balances;
  const grpc::Status bs = funds->GetLedgerBalances(&bc, br, &balances);
  if (!bs.ok()) {
    Fail("GetLedgerBalances: ", Status(bs));
  } else {
    std::map<std::string, int64_t> got(balances.balances_fen().begin(),
                                       balances.balances_fen().end());
    int64_t sum = 0;
    for (const auto& [k, v] : got) sum += v;
    if (sum != 0) Fail("ledger balances sum to ", sum, ", not zero");
    const std::map<std::string, int64_t> want = {{"tax_receivable", receivable},
                                                 {"suspense", -suspense},
                                                 {"individual_accounts/personal", -personal}};
    for (const auto& [k, v] : got) {
      const auto it = want.find(k);
      if ((it == want.end() && v != 0) || (it != want.end() && it->second != v)) {
        Fail("ledger balance ", k, " is ", v, ", expected ",
             it == want.end() ? int64_t{0} : it->second);
      }
    }
    for (const auto& [k, v] : want) {
      if (v != 0 && !got.contains(k)) Fail("ledger balance ", k, " missing, expected ", v);
    }
  }
  auto accounts = v1::AccountService::NewStub(channel);
  for (const Client* c : clients) {
    for (int p = 0; p < kPersonsPerClient; ++p) {
      const std::string id = c->Person(p);
      grpc::ClientContext ac;
      v1::GetAccountRequest ar;
      ar.set_citizen_id(id);
      v1::Account account;
      const grpc::Status as = accounts->GetAccount(&ac, ar, &account);
      if (!as.ok()) {
        Fail("GetAccount: ", Status(as));
        continue;
      }
      std::map<std::string, int64_t> got;
      for (const v1::YearContribution& y : account.contributions()) {
        if (!got.emplace(y.receipt_number(), y.amount_fen()).second) {
          Fail("account ", ledger::MaskCitizenId(id), " credits receipt ", y.receipt_number(),
               " twice");
        }
      }
      const auto& want = account_receipts[id];
      int64_t total = 0;
      for (const auto& [r, fen] : want) total += fen;
      if (got != want || account.total_fen() != total ||
          account.contribution_years() != want.size()) {
        Fail("account ", ledger::MaskCitizenId(id), " holds ", got.size(), " receipts, total ",
             account.total_fen(), "; expected ", want.size(), ", total ", total);
      }
    }
  }
}

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

int Main(int argc, char** argv) {
  std::string ledgerd, ledgerctl, source_dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--ledgerd") ledgerd = argv[i + 1];
    if (flag == "--ledgerctl") ledgerctl = argv[i + 1];
    if (flag == "--source-dir") source_dir = argv[i + 1];
  }
  if (ledgerd.empty() || ledgerctl.empty() || source_dir.empty()) {
    std::fprintf(stderr,
                 "usage: ledger_crash_loop --ledgerd PATH --ledgerctl PATH --source-dir DIR\n");
    return 2;
  }
  const uint64_t seed = EnvOr("LEDGER_CRASH_SEED", std::random_device{}());
  // Kills while serving (and some more while starting up, at random).
  const int kills = static_cast<int>(EnvOr("LEDGER_CRASH_KILLS", 30));
  const int client_count = static_cast<int>(EnvOr("LEDGER_CRASH_CLIENTS", 4));
  Say("crash_loop seed=", seed, " kills=", kills, " clients=", client_count,
      " (LEDGER_CRASH_SEED=", seed, " replays the same records and kill times)");
  std::mt19937_64 rng(seed);
  const auto start = Clock::now();

  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/ledger-crash-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    Fail("mkdtemp: ", std::strerror(errno));
    return 1;
  }
  const std::string work = pattern;
  Server server(ledgerd, work, rng);
  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {ledgerctl, "--server", StrCat("127.0.0.1:", server.port())});
    return Run(std::move(args));
  };
  auto finish = [&](int code) {
    if (code == 0 && EnvOr("LEDGER_CRASH_KEEP", 0) == 0) {
      std::error_code ignored;
      std::filesystem::remove_all(work, ignored);
    } else {
      Say("kept ", work, " (ledgerd.log, data)");
    }
    return code;
  };

  // Set up: the demo policy and the participants, through ledgerctl.
  server.Start();
  std::string why;
  if (!server.WaitServing(&why)) {
    Fail(why);
    return finish(1);
  }
  CommandOutput out = ctl({"policy", "adopt", source_dir + "/deploy/policies/yanji-222401.json"});
  if (out.exit_code != 0) {
    Fail("ledgerctl policy adopt exited ", out.exit_code, ": ", out.output);
    return finish(1);
  }
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<Client*> client_ptrs;
  std::vector<std::string> persons;
  for (int c = 0; c < client_count; ++c) {
    clients.push_back(std::make_unique<Client>(c, rng(), server.port_ref()));
    client_ptrs.push_back(clients.back().get());
    for (int p = 0; p < kPersonsPerClient; ++p) persons.push_back(clients.back()->Person(p));
  }
  for (size_t p = 0; p < persons.size(); ++p) {
    out = ctl({"enrol", "--id", persons[p], "--name", StrCat("参保人", p), "--region", kRegion,
               "--date", "2014-01-10"});
    if (out.exit_code != 0) {
      Fail("ledgerctl enrol exited ", out.exit_code, ": ", out.output);
      return finish(1);
    }
  }

  // The loop: clients push while the server is killed and restarted.
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (auto& c : clients) threads.emplace_back([&stop, client = c.get()] { client->Run(stop); });
  int serving_kills = 0, startup_kills = 0, kills_under_load = 0;
  double serving_s = 0, startup_s = 0;
  for (bool first = true; serving_kills < kills && g_failures.load() == 0; first = false) {
    if (!first) server.Start();
    const auto started = Clock::now();
    if (!first && rng() % 6 == 0) {
      // Kill it while it opens and verifies its log, before it serves.
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 120));
      server.Kill();
      ++startup_kills;
      continue;
    }
    if (!server.WaitServing(&why)) {
      Fail("after ", serving_kills + startup_kills, " kills: ", why);
      break;
    }
    startup_s += SecondsSince(started);
    const auto up = std::chrono::milliseconds(150 + rng() % 1500);
    std::this_thread::sleep_for(up);
    serving_s += std::chrono::duration<double>(up).count();
    if (g_clients_done_fresh.load() < client_count) ++kills_under_load;
    server.Kill();
    ++serving_kills;
    if (serving_kills >= 20 && SecondsSince(start) > 75) break;  // keep the test near a minute
  }
  const int done_kills = serving_kills + startup_kills;
  const double loop_s = SecondsSince(start);

  // Drain: the server up for good, every client resends until all is acknowledged.
  server.Start();
  if (!server.WaitServing(&why)) Fail("final start: ", why);
  stop = true;
  for (std::thread& t : threads) t.join();
  for (Client* c : client_ptrs) c->Disconnect();
  if (g_failures.load() > 0) return finish(1);
  const double drain_s = SecondsSince(start) - loop_s;

  ClientStats total;
  for (const Client* c : client_ptrs) {
    const ClientStats& s = c->stats();
    total.calls_ok += s.calls_ok;
    total.calls_failed += s.calls_failed;
    total.stream_calls += s.stream_calls;
    total.unary_calls += s.unary_calls;
    total.acknowledged += s.acknowledged;
    total.duplicates += s.duplicates;
    total.recovered_duplicates += s.recovered_duplicates;
    total.resends_checked += s.resends_checked;
    total.messages_retried += s.messages_retried;
  }

  // The checks.
  auto channel = NewChannel(server.port());
  uint64_t events = 0;
  CheckLog(channel, client_ptrs, static_cast<int>(persons.size()), &events);
  LedgerView before;
  ReadView(channel, persons, &before);
  ExpectReplayEqual(channel, "after the crash loop");
  out = ctl({"audit", "verify-chain"});
  if (out.exit_code != 0 ||
      out.output.find(StrCat("chain ok from=1 to=", before.head)) == std::string::npos) {
    Fail("ledgerctl audit verify-chain exited ", out.exit_code, ": ", out.output);
  }
  out = ctl({"audit", "replay"});
  if (out.exit_code != 0 || out.output.find("replay equal=true") == std::string::npos) {
    Fail("ledgerctl audit replay exited ", out.exit_code, ": ", out.output);
  }

  const double checks_s = SecondsSince(start) - loop_s - drain_s;
  // A clean stop, an offline rebuild of every projection, a restart: nothing changes.
  channel.reset();
  const int stopped = server.Stop();
  if (stopped != 0) Fail("ledgerd exited ", stopped, " after SIGTERM");
  out = Run({ledgerctl, "rebuild", "--data-dir", server.data_dir()});
  if (out.exit_code != 0) Fail("ledgerctl rebuild exited ", out.exit_code, ": ", out.output);
  server.Start();
  if (!server.WaitServing(&why)) {
    Fail("start after rebuild: ", why);
    return finish(1);
  }
  channel = NewChannel(server.port());
  LedgerView after;
  ReadView(channel, persons, &after);
  if (after.head != before.head) Fail("head ", after.head, " after rebuild, was ", before.head);
  if (after.balances != before.balances) Fail("ledger balances changed in the rebuild");
  if (after.accounts != before.accounts) Fail("accounts changed in the rebuild");
  ExpectReplayEqual(channel, "after the rebuild");
  channel.reset();
  if (server.Stop() != 0) Fail("ledgerd did not stop cleanly after the rebuild");

  const double rebuild_s = SecondsSince(start) - loop_s - drain_s - checks_s;
  Say("phases: kill loop ", Fixed(loop_s, 1), " s (serving ", Fixed(serving_s, 1),
      " s, mean start-up ", Fixed(startup_s / std::max(1, serving_kills)), " s), drain ",
      Fixed(drain_s, 1), " s, checks ", Fixed(checks_s, 1), " s, stop+rebuild+restart+checks ",
      Fixed(rebuild_s, 1), " s");
  if (total.recovered_duplicates == 0) {
    Say("note: no kill landed between a commit and its answer this run (recovered_duplicates=0)");
  }
  const int failures = g_failures.load();
  Say("crash_loop seed=", seed, " kills=", done_kills, " (", serving_kills, " while serving, ",
      startup_kills, " while starting, ", kills_under_load, " with new records in flight)",
      " records_acknowledged=", total.acknowledged, " events=", events,
      " duplicates_seen=", total.duplicates, " recovered_duplicates=", total.recovered_duplicates,
      " resends_checked=", total.resends_checked, " messages_retried=", total.messages_retried,
      " calls_ok=", total.calls_ok, " calls_failed=", total.calls_failed,
      " seconds=", static_cast<int>(SecondsSince(start)), failures == 0 ? " PASS" : " FAILED");
  return finish(failures == 0 ? 0 : 1);
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
