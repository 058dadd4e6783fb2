#include "services/patroni.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "ledger/strings.h"
#include "spdlog/spdlog.h"

namespace services {

using ledger::StrCat;

namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Waits until `fd` is ready for `events` or the deadline passes.
absl::Status Await(int fd, short events, int64_t deadline_ms) {
  for (;;) {
    const int64_t left = deadline_ms - SteadyMs();
    if (left <= 0) return absl::DeadlineExceededError("no answer in time");
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, static_cast<int>(left));
    if (n > 0) return absl::OkStatus();
    if (n < 0 && errno != EINTR) return absl::UnavailableError(strerror(errno));
  }
}

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

absl::StatusOr<HttpResponse> HttpGet(const std::string& host_port, const std::string& path,
                                     int timeout_ms) {
  const int64_t deadline = SteadyMs() + timeout_ms;
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) return absl::InvalidArgumentError("expected host:port");
  const std::string host = host_port.substr(0, colon), port = host_port.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(StrCat("resolving ", host_port, ": ", gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, freeaddrinfo);
  Socket s(socket(found->ai_family, found->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (s.fd() < 0) return absl::UnavailableError(strerror(errno));
  if (connect(s.fd(), found->ai_addr, found->ai_addrlen) != 0 && errno != EINPROGRESS) {
    return absl::UnavailableError(StrCat("connecting to ", host_port, ": ", strerror(errno)));
  }
  if (absl::Status st = Await(s.fd(), POLLOUT, deadline); !st.ok()) return st;
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return absl::UnavailableError(StrCat("connecting to ", host_port, ": ", strerror(err)));
  const std::string request =
      StrCat("GET ", path, " HTTP/1.0\r\nHost: ", host_port, "\r\nConnection: close\r\n\r\n");
  for (size_t sent = 0; sent < request.size();) {
    if (absl::Status st = Await(s.fd(), POLLOUT, deadline); !st.ok()) return st;
    const ssize_t n = send(s.fd(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return absl::UnavailableError(strerror(errno));
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string response;
  char buf[8192];
  for (;;) {
    if (absl::Status st = Await(s.fd(), POLLIN, deadline); !st.ok()) return st;
    const ssize_t n = recv(s.fd(), buf, sizeof(buf), 0);
    if (n == 0) break;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return absl::UnavailableError(strerror(errno));
    if (n > 0) response.append(buf, static_cast<size_t>(n));
    if (response.size() > (1 << 20)) return absl::ResourceExhaustedError("answer over 1 MiB");
  }
  // "HTTP/1.1 200 OK\r\n…\r\n\r\nbody"
  HttpResponse out;
  const size_t space = response.find(' ');
  if (!response.starts_with("HTTP/") || space == std::string::npos ||
      !absl::SimpleAtoi(response.substr(space + 1, 3), &out.status)) {
    return absl::UnavailableError("not an HTTP answer");
  }
  const size_t body = response.find("\r\n\r\n");
  if (body != std::string::npos) out.body = response.substr(body + 4);
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> ParsePeers(const std::string& text) {
  std::map<std::string, std::string> peers;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    const size_t eq = item.find('=');
    if (eq == absl::string_view::npos || eq == 0 || item.find(':', eq) == absl::string_view::npos) {
      return absl::InvalidArgumentError(StrCat("peer '", std::string(item),
                                               "': expected name=host:port (the Patroni member name)"));
    }
    peers[std::string(item.substr(0, eq))] = std::string(item.substr(eq + 1));
  }
  return peers;
}

std::string LeaderOf(const std::string& cluster_json) {
  google::protobuf::Struct cluster;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(cluster_json, &cluster, options).ok()) return "";
  const auto members = cluster.fields().find("members");
  if (members == cluster.fields().end()) return "";
  for (const auto& m : members->second.list_value().values()) {
    const auto& f = m.struct_value().fields();
    const auto role = f.find("role"), name = f.find("name");
    if (role == f.end() || name == f.end()) continue;
    // Patroni 3 says "leader" (older releases "master"); a standby cluster's "standby_leader"
    // does not take writes.
    if (role->second.string_value() == "leader" || role->second.string_value() == "master") {
      return name->second.string_value();
    }
  }
  return "";
}

absl::StatusOr<std::unique_ptr<PatroniWatch>> PatroniWatch::Start(Options options) {
  absl::string_view rest = options.url;
  if (!absl::ConsumePrefix(&rest, "http://")) {
    return absl::InvalidArgumentError(StrCat("patroni url '", options.url, "': expected http://host:port"));
  }
  rest = absl::StripSuffix(rest, "/");
  if (rest.find(':') == absl::string_view::npos || rest.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError(StrCat("patroni url '", options.url, "': expected http://host:port"));
  }
  return std::unique_ptr<PatroniWatch>(new PatroniWatch(std::move(options), std::string(rest)));
}

PatroniWatch::PatroniWatch(Options options, std::string host_port)
    : options_(std::move(options)), host_port_(std::move(host_port)) {
  thread_ = std::thread([this] { Poll(); });
}

PatroniWatch::~PatroniWatch() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  thread_.join();
}

bool PatroniWatch::IsPrimary() const { return SteadyMs() < primary_until_ms_.load(); }

std::string PatroniWatch::LeaderHint() const {
  std::lock_guard lock(mu_);
  return leader_hint_;
}

void PatroniWatch::Poll() {
  bool was_primary = false;
  for (;;) {
    const int64_t asked = SteadyMs();
    absl::StatusOr<HttpResponse> primary = HttpGet(host_port_, "/primary", options_.timeout_ms);
    const bool is_primary = primary.ok() && primary->status == 200;
    // Valid from when it was asked, not answered: a slow answer buys no extra time.
    primary_until_ms_.store(is_primary ? asked + options_.validity_ms : 0);
    if (is_primary != was_primary) {
      spdlog::warn("patroni: this node's PostgreSQL is {} ({})",
                   is_primary ? "the primary: writes are served here" : "not the primary",
                   primary.ok() ? StrCat("GET /primary ", primary->status)
                                : std::string(primary.status().message()));
      was_primary = is_primary;
    }
    std::string hint;
    if (absl::StatusOr<HttpResponse> cluster = HttpGet(host_port_, "/cluster", options_.timeout_ms);
        cluster.ok() && cluster->status == 200) {
      const auto peer = options_.peers.find(LeaderOf(cluster->body));
      if (peer != options_.peers.end()) hint = peer->second;
    }
    std::unique_lock lock(mu_);
    leader_hint_ = std::move(hint);
    if (stop_cv_.wait_for(lock, std::chrono::milliseconds(options_.poll_ms), [&] { return stop_; })) {
      return;
    }
  }
}

}  // namespace services
