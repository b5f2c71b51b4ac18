#include "engine/query/http_server.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/json_string.h"
#include "common/scratch_dir.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "engine/kafka/partitioner.h"
#include "engine/privacy/erasure.h"
#include "engine/query/customer_filter.h"
#include "engine/query/json.h"
#include "engine/query/portfolio.h"
#include "engine/query/projection_view.h"
#include "engine/query/time_text.h"
#include "engine/query/trail.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "guanxi/v1/serving.pb.h"
#include "httplib.h"
#include "web/web_files.h"

namespace guanxi::engine {
namespace {

constexpr int kDefaultLimit = 50;
constexpr int kMaxLimit = 1000;
// A trail's page: entries (an event, or one fact derived from it or from time).
constexpr int kDefaultTrailLimit = 1000;
constexpr int kMaxTrailLimit = 10000;
// Who may hold a request thread, and for how long. cpp-httplib (0.11) serves a connection
// on one thread of a fixed pool from accept to close and queues the others, without
// bound; with its defaults (8 threads; 5 s for each read of a request's line and
// headers; 5 s of idling between a connection's requests) eight connections that send a
// request line and then nothing held every thread, 5 s at a time, and /healthz waited
// behind them (64 such connections: every endpoint timed out for over 30 s). So: more
// threads, and a connection that does not send its request, or its next one, promptly is
// dropped, which bounds how long a waiting connection keeps a thread (about 4 s: a 400
// after 2 s in the middle of a request, the close 2 s later). 0.11 has no limit on
// connections or queued requests, nor a deadline for a whole request (a client sending
// a byte a second keeps its thread): behind a hostile network, put a proxy in front.
constexpr size_t kHttpThreads = 32;
constexpr time_t kRequestReadSeconds = 2;  // each read of a request's line and headers
constexpr time_t kKeepAliveSeconds = 2;    // idle between two requests of one connection
constexpr size_t kRequestsPerConnection = 10;  // then it closes, and its thread is free
// A request's header fields at most (their bytes: HttpServerOptions::max_header_bytes).
// cpp-httplib 0.11 reads any number of them, each line up to 8 KiB (a longer one: 400).
constexpr size_t kMaxHeaderFields = 100;
// On a read forwarded to the customer's owner: the instance that forwarded it (no
// instance forwards a request that carries it: one hop at most).
constexpr char kForwardedBy[] = "X-Guanxi-Forwarded-By";
// On every answer, with several instances: the instance whose store answered.
constexpr char kServedBy[] = "X-Guanxi-Served-By";

// JSON answers name their charset. That also keeps Debian's cpp-httplib (0.11) from
// compressing them with brotli at its slowest setting, which it does to a bare
// "application/json" for every client that accepts br (every browser): 10 s for a page of
// 1,000 customers' states, against 0.3 s uncompressed (measured for the web view).
constexpr char kJson[] = "application/json; charset=utf-8";

// The web view's files are served as they are; the type by the name's extension.
std::string_view ContentType(std::string_view path) {
  if (path.ends_with(".html")) return "text/html; charset=utf-8";
  if (path.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (path.ends_with(".css")) return "text/css; charset=utf-8";
  if (path.ends_with(".svg")) return "image/svg+xml";
  if (path.ends_with(".png")) return "image/png";
  return "application/octet-stream";
}

// The web view's file at `path` ("/" is its index.html), if it is one.
std::optional<web::File> WebFile(std::string_view path) {
  if (path == "/") path = "/index.html";
  for (const web::File& file : web::Files()) {
    if (file.path == path) return file;
  }
  return std::nullopt;
}

// The customer filters of a list or a count (customer_filter.h) from the query.
absl::StatusOr<CustomerFilter> FilterOf(const httplib::Request& req) {
  return ParseCustomerFilter([&](std::string_view name) -> std::optional<std::string> {
    const std::string key(name);
    if (!req.has_param(key)) return std::nullopt;
    return req.get_param_value(key);
  });
}

std::string ToJson(const google::protobuf::Message& m) { return MessageJson(m).value_or("null"); }

void Fail(httplib::Response& res, int status, std::string_view message) {
  res.status = status;
  res.set_content(absl::StrCat("{\"error\":", JsonString(message), "}\n"), kJson);
}

// /v1/customers/{id}[/{action}], read from the raw request target: the routes match the
// percent-decoded path, where an id with '/' (sent as %2F) spans segments; in the target
// the id is one segment. nullopt when the target has no such shape.
struct CustomerPath {
  std::string id;           // percent-decoded
  absl::string_view action;  // "" for the customer itself, else the segment after the id
};

std::optional<CustomerPath> ParseCustomerPath(absl::string_view target) {
  target = target.substr(0, target.find('?'));
  const std::vector<absl::string_view> segments = absl::StrSplit(target, '/');
  // "", "v1", "customers", id [, action]
  if (segments.size() < 4 || segments.size() > 5 || segments[3].empty()) return std::nullopt;
  return CustomerPath{.id = httplib::detail::decode_url(std::string(segments[3]), false),
                      .action = segments.size() == 5 ? segments[4] : absl::string_view()};
}

// Who a request is, by its bearer token.
enum class Role {
  kNone,   // no token, or one that is neither the read nor the admin token
  kRead,   // the read token (or no authentication configured)
  kAdmin,  // the admin token
};

// Tokens are compared by their SHA-256 digests with CRYPTO_memcmp: the time a comparison
// takes tells neither how long the token is nor where a guess first differs.
using TokenDigest = std::array<unsigned char, 32>;

TokenDigest DigestOf(std::string_view token) {
  TokenDigest digest{};
  unsigned int size = 0;
  EVP_Digest(token.data(), token.size(), digest.data(), &size, EVP_sha256(), nullptr);
  return digest;
}

bool SameToken(const TokenDigest& a, const TokenDigest& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The first error OpenSSL queued, as text (and the queue emptied).
std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no detail";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

// Sets up the server's TLS: the certificate chain and key from PEM files, TLS 1.2 at
// least. On failure, `error` names the flag and the file.
bool SetUpTls(SSL_CTX& ctx, const std::string& cert_file, const std::string& key_file,
              std::string& error) {
  for (const auto& [flag, file] : {std::pair{"--http-tls-cert-file", &cert_file},
                                   std::pair{"--http-tls-key-file", &key_file}}) {
    if (!std::ifstream(*file)) {
      error = absl::StrCat(flag, ": cannot read ", *file);
      return false;
    }
  }
  SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_use_certificate_chain_file(&ctx, cert_file.c_str()) != 1) {
    error = absl::StrCat("--http-tls-cert-file: ", cert_file,
                         " holds no PEM certificate chain (", OpenSslError(), ")");
    return false;
  }
  EVP_PKEY* key = nullptr;
  if (BIO* in = BIO_new_file(key_file.c_str(), "r"); in != nullptr) {
    // No passphrase callback: an encrypted key fails instead of asking on the terminal.
    key = PEM_read_bio_PrivateKey(in, nullptr, [](char*, int, int, void*) { return 0; }, nullptr);
    BIO_free(in);
  }
  if (key == nullptr) {
    error = absl::StrCat("--http-tls-key-file: ", key_file,
                         " holds no unencrypted PEM private key (", OpenSslError(), ")");
    return false;
  }
  const bool used = SSL_CTX_use_PrivateKey(&ctx, key) == 1;  // the context keeps a reference
  EVP_PKEY_free(key);
  if (!used || SSL_CTX_check_private_key(&ctx) != 1) {
    error = absl::StrCat("--http-tls-key-file: ", key_file,
                         " is not the private key of the certificate in --http-tls-cert-file ",
                         cert_file, " (", OpenSslError(), ")");
    return false;
  }
  return true;
}

// Whether `file` can be read and holds at least one PEM certificate.
bool HoldsPemCertificate(const std::string& file) {
  BIO* in = BIO_new_file(file.c_str(), "r");
  if (in == nullptr) return false;
  X509* cert = PEM_read_bio_X509(in, nullptr, nullptr, nullptr);
  BIO_free(in);
  X509_free(cert);
  ERR_clear_error();
  return cert != nullptr;
}

// One of at most `max` slots (as-of recomputations at once), held while it lives.
class Slot {
 public:
  Slot(std::atomic<int>& used, int max) : used_(used), held_(used.fetch_add(1) < max) {
    if (!held_) used_.fetch_sub(1);
  }
  ~Slot() {
    if (held_) used_.fetch_sub(1);
  }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  bool held() const { return held_; }

 private:
  std::atomic<int>& used_;
  const bool held_;
};

// The server with one more way in: a request given as bytes (HttpServer::Answer). It is
// served by the same code as one read from a socket (cpp-httplib's process_request, which
// is protected), on a stream over those bytes.
template <class Base>
class AnsweringServer : public Base {
 public:
  using Base::Base;

  std::string Answer(std::string_view request) {
    BytesStream stream(request);
    bool closed = false;
    this->process_request(stream, /*close_connection=*/true, closed, nullptr);
    return std::move(stream.written);
  }

 private:
  class BytesStream : public httplib::Stream {
   public:
    explicit BytesStream(std::string_view in) : in_(in) {}
    bool is_readable() const override { return true; }
    bool is_writable() const override { return true; }
    ssize_t read(char* ptr, size_t size) override {
      const size_t n = std::min(size, in_.size());
      std::copy_n(in_.data(), n, ptr);
      in_.remove_prefix(n);
      return static_cast<ssize_t>(n);
    }
    ssize_t write(const char* ptr, size_t size) override {
      written.append(ptr, size);
      return static_cast<ssize_t>(size);
    }
    void get_remote_ip_and_port(std::string& ip, int& port) const override {
      ip = "127.0.0.1";
      port = 0;
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
      ip = "127.0.0.1";
      port = 0;
    }
    socket_t socket() const override { return INVALID_SOCKET; }

    std::string written;

   private:
    std::string_view in_;
  };
};

}  // namespace

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read the token file ", path));
  std::stringstream text;
  text << in.rdbuf();
  std::string token(absl::StripAsciiWhitespace(text.str()));
  if (token.empty())
    return absl::InvalidArgumentError(absl::StrCat("the token file ", path, " is empty"));
  for (const char c : token) {
    if (c <= ' ' || c > '~') {
      return absl::InvalidArgumentError(
          absl::StrCat("the token file ", path,
                       " holds a character other than visible ASCII (a space, a control "
                       "character or a non-ASCII byte), which no header could carry"));
    }
  }
  return token;
}

struct HttpServer::Impl {
  HttpServerOptions options;
  // An AnsweringServer<httplib::SSLServer> with TLS, an AnsweringServer<httplib::Server>
  // without.
  std::unique_ptr<httplib::Server> server;
  bool tls = false;
  std::optional<TokenDigest> read_token;
  std::optional<TokenDigest> admin_token;
  std::atomic<bool> stopping{false};  // cancels as-of recomputations
  std::atomic<int> as_of_trails{0};   // in progress
  std::atomic<int> requests{0};       // being answered (Limited)

  // The request's role by its "Authorization: Bearer <token>". Without any token
  // configured, everyone reads (and no one is admin).
  Role RoleOf(const httplib::Request& req) const {
    if (!read_token && !admin_token) return Role::kRead;
    const std::string header = req.get_header_value("Authorization");
    constexpr absl::string_view kScheme = "bearer ";
    if (header.size() <= kScheme.size() ||
        !absl::EqualsIgnoreCase(absl::string_view(header).substr(0, kScheme.size()), kScheme)) {
      return Role::kNone;
    }
    const TokenDigest given = DigestOf(std::string_view(header).substr(kScheme.size()));
    // Both compared, whichever matches: the time taken does not say which one did.
    const bool admin = admin_token && SameToken(given, *admin_token);
    const bool read = read_token && SameToken(given, *read_token);
    return admin ? Role::kAdmin : read ? Role::kRead : Role::kNone;
  }

  // The guard of an admin endpoint: true when the request bears the admin token;
  // otherwise answers 401 (no valid token) or 403 (the read token, or no admin token
  // configured) and returns false. An admin endpoint's handler begins with
  //   if (!self->RequireAdmin(req, res)) return;
  bool RequireAdmin(const httplib::Request& req, httplib::Response& res) const {
    switch (RoleOf(req)) {
      case Role::kAdmin:
        return true;
      case Role::kNone:
        Unauthorized(res);
        return false;
      case Role::kRead:
        break;
    }
    Fail(res, 403,
         admin_token ? "this endpoint requires the admin token; the token given may only read"
                     : "admin endpoints are disabled: the server was started without an admin "
                       "token (--http-admin-token-file)");
    return false;
  }

  static void Unauthorized(httplib::Response& res) {
    res.set_header("WWW-Authenticate", "Bearer");
    Fail(res, 401, "a valid bearer token is required (Authorization: Bearer <token>)");
  }

  // `handler`, answered only while fewer than options.max_requests requests are (503 with
  // Retry-After otherwise): every request thread busy with a slow read would leave none
  // for the probes, and the engine's own threads share the cores.
  httplib::Server::Handler Limited(httplib::Server::Handler handler) {
    return [this, handler = std::move(handler)](const httplib::Request& req,
                                                httplib::Response& res) {
      Slot slot(requests, options.max_requests);
      if (!slot.held()) {
        res.set_header("Retry-After", "1");
        return Fail(res, 503,
                    absl::StrCat(options.max_requests,
                                 " requests are being answered already; retry shortly"));
      }
      handler(req, res);
    };
  }

  // GET /v1/admin/limits: the limits in force and how much of each is in use.
  void Limits(httplib::Response& res) const {
    res.set_content(
        absl::StrCat("{\"tls\":", tls ? "true" : "false",
                     ",\"readToken\":", read_token ? "true" : "false",
                     ",\"adminToken\":", admin_token ? "true" : "false",
                     ",\"maxRequests\":", options.max_requests,
                     ",\"requests\":", requests.load(),
                     ",\"maxAsOfTrails\":", options.max_as_of_trails,
                     ",\"asOfTrails\":", as_of_trails.load(),
                     ",\"maxBodyBytes\":", options.max_body_bytes,
                     ",\"maxHeaderBytes\":", options.max_header_bytes,
                     ",\"maxHeaderFields\":", kMaxHeaderFields, "}\n"),
        kJson);
  }

  // For a read of a customer that no partition owned here holds: when the customer's home
  // partition (engine/kafka/partitioner.h) is another instance's, asks that instance and
  // answers with its answer; 503 with Retry-After when the owner is not known yet or does
  // not answer (a rebalance in progress, a crashed owner until its partitions move).
  // Returns false, answering nothing, where the 404 here is the truth: the home
  // partition is owned here, the request was forwarded here already, or no directory.
  // `owned` are let go first: a forwarded read must not keep a revoked store open.
  bool Forward(const std::string& id, std::vector<PartitionView>& owned,
               const httplib::Request& req, httplib::Response& res) const {
    if (!options.owner_of || req.has_header(kForwardedBy)) return false;
    const int32_t partitions = options.status().events_partitions;
    if (partitions <= 0) return false;
    const int32_t home = KeyPartition(id, partitions);
    for (const PartitionView& view : owned) {
      if (view.partition == home) return false;
    }
    owned.clear();
    const std::optional<std::string> owner = options.owner_of(home);
    res.set_header("Retry-After", "1");
    if (!owner || *owner == options.self) {
      Fail(res, 503,
           absl::StrCat("customer ", id, " belongs to partition ", home,
                        ", which this instance does not own and whose owner it does not know "
                        "yet; retry shortly"));
      return true;
    }
    const size_t colon = owner->rfind(':');
    int port = 0;
    if (colon == std::string::npos || !absl::SimpleAtoi(owner->substr(colon + 1), &port)) {
      Fail(res, 503, absl::StrCat("partition ", home, "'s owner advertises '", *owner,
                                  "', which is not HOST:PORT"));
      return true;
    }
    httplib::Client client(
        absl::StrCat(tls ? "https://" : "http://", owner->substr(0, colon), ":", port));
    if (tls) {
      client.enable_server_certificate_verification(true);
      if (!options.tls_ca_file.empty()) client.set_ca_cert_path(options.tls_ca_file.c_str());
    }
    client.set_connection_timeout(2, 0);
    client.set_read_timeout(120, 0);  // an as-of trail recomputes a partition's log
    httplib::Headers headers = {{kForwardedBy, options.self}};
    if (req.has_header("Authorization")) {
      headers.emplace("Authorization", req.get_header_value("Authorization"));
    }
    httplib::Result answer = client.Get(req.target.c_str(), headers);
    if (!answer) {
      Fail(res, 503,
           absl::StrCat("partition ", home, "'s owner ", *owner,
                        " did not answer: ", httplib::to_string(answer.error()), "; retry shortly"));
      return true;
    }
    res = httplib::Response();
    res.status = answer->status;
    for (const char* header : {"Content-Type", "Retry-After", kServedBy}) {
      if (answer->has_header(header)) res.set_header(header, answer->get_header_value(header));
    }
    res.body = std::move(answer->body);
    return true;
  }

  void Customer(const std::string& id, const httplib::Request& req,
                httplib::Response& res) const {
    std::vector<PartitionView> owned = options.partitions();
    for (const PartitionView& view : owned) {
      guanxi::v1::CustomerState state;
      auto found = view.store->GetState(id, &state);
      if (!found.ok()) return Fail(res, 500, std::string(found.status().message()));
      if (*found) {
        res.set_content(
            absl::StrCat("{\"partition\":", view.partition, ",\"state\":", ToJson(state), "}\n"),
            kJson);
        return;
      }
    }
    if (Forward(id, owned, req, res)) return;
    Fail(res, 404, absl::StrCat("customer ", id, " is not in any partition this instance owns"));
  }

  // POST /v1/customers/{id}/erase: the erasure of the customer's personal data asked for
  // (engine/privacy/erasure.h). The body, optional, is a guanxi.v1.Erasure in JSON:
  // {"reason": "...", "requestedBy": "..."} (neither may hold personal data: both stay in
  // the log as the erasure's audit). 202 with the erasure event once the broker has it:
  // the engine erases when it appends it, on whichever instance owns the customer.
  void Erase(const std::string& id, const httplib::Request& req, httplib::Response& res) const {
    if (!options.produce_erasure) {
      return Fail(res, 501, "this server cannot produce to the events topic; use guanxi erase");
    }
    guanxi::v1::Erasure asked;
    if (!req.body.empty()) {
      const auto parsed = google::protobuf::util::JsonStringToMessage(req.body, &asked);
      if (!parsed.ok()) {
        return Fail(res, 400,
                    absl::StrCat("the body is not a guanxi.v1.Erasure in JSON ({\"reason\": "
                                 "\"...\", \"requestedBy\": \"...\"}): ",
                                 std::string(parsed.message())));
      }
    }
    auto erasure = ErasureEvent(
        id, asked.reason(),
        asked.requested_by().empty() ? "the HTTP API's admin token" : asked.requested_by(),
        absl::Now());
    if (!erasure.ok()) return Fail(res, 400, std::string(erasure.status().message()));
    if (const absl::Status produced = options.produce_erasure(*erasure); !produced.ok()) {
      if (absl::IsUnavailable(produced) || absl::IsDeadlineExceeded(produced)) {
        res.set_header("Retry-After", "5");
        return Fail(res, 503,
                    absl::StrCat("the events topic did not take the erasure: ",
                                 produced.message(), "; asking again is safe"));
      }
      return Fail(res, 500, std::string(produced.message()));
    }
    res.status = 202;
    res.set_content(absl::StrCat(ToJson(*erasure), "\n"), kJson);
  }

  // A customer's audit trail (engine/query/trail.h): live, read from the engine's own
  // store at one snapshot; or with ?as_of=, recomputed from the partition's log up to then
  // in a scratch store. Only the customer's partition is recomputed, from a secondary of
  // its store (not the engine's own: a revoked partition must not stay open that long).
  void CustomerTrail(const std::string& id, const httplib::Request& req, httplib::Response& res) {
    std::optional<google::protobuf::Timestamp> as_of;
    if (req.has_param("as_of")) {
      auto parsed = ParseTimeText(req.get_param_value("as_of"));
      if (!parsed.ok()) return Fail(res, 400, absl::StrCat("as_of: ", parsed.status().message()));
      as_of = *parsed;
    }
    TrailPage page{.after = std::nullopt, .limit = kDefaultTrailLimit};
    if (req.has_param("limit")) {
      int limit = 0;
      if (!absl::SimpleAtoi(req.get_param_value("limit"), &limit) || limit < 1 ||
          limit > kMaxTrailLimit) {
        return Fail(res, 400, absl::StrCat("limit: must be an integer in 1..", kMaxTrailLimit));
      }
      page.limit = static_cast<size_t>(limit);
    }
    // A token is the last log position of the page before (ReadTrail): one of the trail's
    // positions, which stay in it once there. Anything else would silently page from
    // wherever the number falls.
    constexpr char kBadTrailToken[] =
        "page_token: not a token this endpoint gave (the nextPageToken of a page)";
    if (req.has_param("page_token") && !req.get_param_value("page_token").empty()) {
      uint64_t after = 0;
      if (!absl::SimpleAtoi(req.get_param_value("page_token"), &after)) {
        return Fail(res, 400, kBadTrailToken);
      }
      page.after = after;
    }
    std::optional<PartitionView> holding;
    std::vector<PartitionView> owned = options.partitions();
    for (const PartitionView& view : owned) {
      auto holds = HoldsCustomer(*view.log, id);
      if (!holds.ok()) return Fail(res, 500, std::string(holds.status().message()));
      if (!*holds) continue;
      if (holding) {
        return Fail(
            res, 500,
            absl::StrCat("customer ", id, " has events in partitions ", holding->partition, " and ",
                         view.partition, " (one customer's events must share a partition)"));
      }
      holding = view;
    }
    if (!holding) {
      if (Forward(id, owned, req, res)) return;
      return Fail(res, 404,
                  absl::StrCat("customer ", id, " is not in any partition this instance owns"));
    }
    owned.clear();  // of the stores, only the customer's stays held (and not while as_of)
    const int32_t partition = holding->partition;
    // Declared before the view, which keeps files in it.
    std::optional<ScratchDir> scratch;
    absl::StatusOr<ProjectionView> view;
    std::optional<Slot> slot;
    if (!as_of) {
      view = LiveProjectionView(*holding);
    } else {
      holding.reset();  // the engine's store is not held while recomputing
      if (options.data_dir.empty()) {
        return Fail(res, 501, "as_of: this server was started without the data directory");
      }
      slot.emplace(as_of_trails, options.max_as_of_trails);
      if (!slot->held()) {
        res.set_header("Retry-After", "10");
        return Fail(res, 503,
                    absl::StrCat("as_of: ", options.max_as_of_trails,
                                 " as-of trail(s) being recomputed already; ask again later"));
      }
      scratch.emplace("guanxi_http_trail");
      if (scratch->path().empty()) return Fail(res, 500, "cannot create a scratch directory");
      view = OpenProjectionView({.data_dir = options.data_dir,
                                 .partition = partition,
                                 .scratch_dir = scratch->path(),
                                 .config = options.config,
                                 .as_of = as_of},
                                stopping);
    }
    if (!view.ok()) {
      if (view.status().code() == absl::StatusCode::kCancelled) {
        return Fail(res, 503, "the server is stopping");
      }
      return Fail(res, 500, absl::StrCat("partition ", partition, ": ", view.status().message()));
    }
    auto trail = ReadTrail(*view, id, page);
    if (absl::IsInvalidArgument(trail.status())) return Fail(res, 400, kBadTrailToken);
    if (!trail.ok()) {
      return Fail(res, 500, absl::StrCat("partition ", partition, ": ", trail.status().message()));
    }
    auto json = TrailJson(*trail);
    if (!json.ok()) return Fail(res, 500, std::string(json.status().message()));
    res.set_content(absl::StrCat(*json, "\n"), kJson);
  }

  void Customers(const httplib::Request& req, httplib::Response& res) const {
    int limit = kDefaultLimit;
    if (req.has_param("limit")) {
      if (!absl::SimpleAtoi(req.get_param_value("limit"), &limit) || limit < 1 ||
          limit > kMaxLimit) {
        return Fail(res, 400, absl::StrCat("limit: must be an integer in 1..", kMaxLimit));
      }
    }
    auto filter = FilterOf(req);
    if (!filter.ok()) return Fail(res, 400, std::string(filter.status().message()));
    // page_token: "<partition>:<customer_id>" of the last customer of the previous page;
    // the next page starts after it, in (partition, customer_id) order.
    int32_t from_partition = -1;
    std::string after;
    if (req.has_param("page_token") && !req.get_param_value("page_token").empty()) {
      const std::string token = req.get_param_value("page_token");
      const size_t colon = token.find(':');
      if (colon == std::string::npos ||
          !absl::SimpleAtoi(token.substr(0, colon), &from_partition)) {
        return Fail(res, 400, "page_token: not a token this API returned");
      }
      after = token.substr(colon + 1);
    }
    std::vector<PartitionView> views = options.partitions();
    std::sort(views.begin(), views.end(),
              [](const auto& a, const auto& b) { return a.partition < b.partition; });
    std::string body = "{\"customers\":[";
    int count = 0;
    bool more = false;
    int32_t last_partition = from_partition;  // of the last customer returned
    for (const PartitionView& view : views) {
      if (view.partition < from_partition) continue;
      std::optional<std::string_view> start;
      if (view.partition == from_partition) start = after;
      absl::Status s = view.store->ForEachState(
          [&](const guanxi::v1::CustomerState& state) {
            if (!filter->Matches(state)) return true;
            if (count == limit) {  // one more exists: the page ends before it
              more = true;
              return false;
            }
            absl::StrAppend(&body, count == 0 ? "" : ",", ToJson(state));
            ++count;
            after = state.customer_id();
            last_partition = view.partition;
            return true;
          },
          start);
      if (!s.ok()) return Fail(res, 500, std::string(s.message()));
      if (more) break;
    }
    const std::string next_token = more ? absl::StrCat(last_partition, ":", after) : "";
    absl::StrAppend(&body, "],\"nextPageToken\":", JsonString(next_token), "}\n");
    res.set_content(body, kJson);
  }

  void Portfolio(const httplib::Request& req, httplib::Response& res) const {
    auto filter = FilterOf(req);
    if (!filter.ok()) return Fail(res, 400, std::string(filter.status().message()));
    auto portfolio = CountPortfolio(options.partitions(), *filter);
    if (!portfolio.ok()) return Fail(res, 500, std::string(portfolio.status().message()));
    res.set_content(absl::StrCat(ToJson(*portfolio), "\n"), kJson);
  }

  // Churn-warning notices with event_time at or after `since` (RFC 3339; default: all),
  // oldest first, at most `limit`; "more" says whether the limit cut the list.
  void Warnings(const httplib::Request& req, httplib::Response& res) const {
    int64_t since = INT64_MIN;
    if (req.has_param("since")) {
      google::protobuf::Timestamp t;
      if (!google::protobuf::util::TimeUtil::FromString(req.get_param_value("since"), &t)) {
        return Fail(res, 400,
                    absl::StrCat("since: '", req.get_param_value("since"),
                                 "' is not an RFC 3339 time (2026-03-03T00:00:00Z)"));
      }
      since = t.seconds();
    }
    int limit = 100;
    if (req.has_param("limit")) {
      if (!absl::SimpleAtoi(req.get_param_value("limit"), &limit) || limit < 1 ||
          limit > kMaxLimit) {
        return Fail(res, 400, absl::StrCat("limit: must be an integer in 1..", kMaxLimit));
      }
    }
    // The oldest `limit + 1` of each partition, merged.
    std::vector<guanxi::v1::ChurnWarning> all;
    for (const PartitionView& view : options.partitions()) {
      int taken = 0;
      absl::Status s =
          view.store->ForEachWarningSince(since, [&](const guanxi::v1::ChurnWarning& w) {
            all.push_back(w);
            return ++taken <= limit;
          });
      if (!s.ok()) return Fail(res, 500, std::string(s.message()));
    }
    std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
      return a.event_time().seconds() < b.event_time().seconds();
    });
    const bool more = all.size() > static_cast<size_t>(limit);
    std::string body = "{\"warnings\":[";
    for (size_t i = 0; i < all.size() && i < static_cast<size_t>(limit); ++i) {
      absl::StrAppend(&body, i == 0 ? "" : ",", ToJson(all[i]));
    }
    absl::StrAppend(&body, "],\"more\":", more ? "true" : "false", "}\n");
    res.set_content(body, kJson);
  }

  // Ready: assigned, and every owned partition consumed and projected to within
  // ready_lag messages. An instance the group gave no partition (more instances than
  // partitions) is ready: it answers reads by finding their owner.
  void Ready(httplib::Response& res) const {
    const EngineStatus status = options.status();
    guanxi::v1::Readiness readiness;
    if (!status.assigned) {
      readiness.add_waiting_for("the consumer group has not assigned this instance its partitions");
    }
    for (const PartitionStatus& ps : status.partitions) {
      auto* p = readiness.add_partitions();
      p->set_partition(ps.partition);
      p->set_lag(ps.high_watermark < 0
                     ? -1
                     : std::max<int64_t>(ps.high_watermark - std::max<int64_t>(ps.next_offset, 0),
                                         0));
      p->set_unprojected(static_cast<int64_t>(ps.log_records - std::min(ps.projected, ps.log_records)));
      if (p->lag() < 0) {
        readiness.add_waiting_for(
            absl::StrCat("partition ", ps.partition, ": the broker's end is not known yet"));
      } else if (p->lag() > options.ready_lag) {
        readiness.add_waiting_for(
            absl::StrCat("partition ", ps.partition, ": ", p->lag(), " messages to consume"));
      }
      if (p->unprojected() > options.ready_lag) {
        readiness.add_waiting_for(absl::StrCat("partition ", ps.partition, ": ",
                                               p->unprojected(), " records to project"));
      }
    }
    readiness.set_ready(readiness.waiting_for().empty());
    res.status = readiness.ready() ? 200 : 503;
    res.set_content(absl::StrCat(ToJson(readiness), "\n"), kJson);
  }

  void Metrics(httplib::Response& res) const {
    const EngineStatus status = options.status();
    std::string out;
    auto metric = [&](const char* name, const char* type, const char* help) {
      absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
    };
    metric("guanxi_messages_consumed_total", "counter",
           "Kafka messages consumed from the events topic.");
    absl::StrAppend(&out, "guanxi_messages_consumed_total ", status.totals.messages, "\n");
    metric("guanxi_events_ingested_total", "counter", "Events appended to the event logs.");
    absl::StrAppend(&out, "guanxi_events_ingested_total ", status.totals.appended, "\n");
    metric("guanxi_duplicates_total", "counter", "Messages whose event_id the log already had.");
    absl::StrAppend(&out, "guanxi_duplicates_total ", status.totals.duplicates, "\n");
    metric("guanxi_dead_letters_total", "counter", "Messages sent to the dead-letter topic.");
    absl::StrAppend(&out, "guanxi_dead_letters_total ", status.totals.dead_letters, "\n");
    metric("guanxi_forwarded_total", "counter",
           "Events that arrived away from their customer's home partition, forwarded there.");
    absl::StrAppend(&out, "guanxi_forwarded_total ", status.totals.forwarded, "\n");
    metric("guanxi_ticks_total", "counter", "Tick records appended to quiet partitions.");
    absl::StrAppend(&out, "guanxi_ticks_total ", status.totals.ticks, "\n");
    metric("guanxi_models_total", "counter", "Population-model records appended.");
    absl::StrAppend(&out, "guanxi_models_total ", status.totals.models, "\n");
    metric("guanxi_consumer_lag_messages", "gauge",
           "High watermark minus the next offset to consume, per owned partition.");
    for (const auto& p : status.partitions) {
      if (p.high_watermark < 0) continue;
      absl::StrAppend(&out, "guanxi_consumer_lag_messages{partition=\"", p.partition, "\"} ",
                      std::max<int64_t>(0, p.high_watermark - std::max<int64_t>(p.next_offset, 0)),
                      "\n");
    }
    metric("guanxi_projection_lag_records", "gauge",
           "Log records appended but not yet applied by the projections, per partition.");
    for (const auto& p : status.partitions) {
      absl::StrAppend(&out, "guanxi_projection_lag_records{partition=\"", p.partition, "\"} ",
                      p.log_records - std::min(p.projected, p.log_records), "\n");
    }
    metric("guanxi_append_batch_latency_seconds", "histogram",
           "Time to decode, dead-letter, deduplicate and append one partition's batch.");
    for (size_t i = 0; i < status.batch_latency_buckets.size(); ++i) {
      const std::string le = i < std::size(kBatchLatencyBounds)
                                 ? absl::StrFormat("%g", kBatchLatencyBounds[i])
                                 : std::string("+Inf");
      absl::StrAppend(&out, "guanxi_append_batch_latency_seconds_bucket{le=\"", le, "\"} ",
                      status.batch_latency_buckets[i], "\n");
    }
    absl::StrAppendFormat(&out, "guanxi_append_batch_latency_seconds_sum %.6f\n",
                          status.batch_latency_sum_seconds);
    absl::StrAppend(&out, "guanxi_append_batch_latency_seconds_count ",
                    status.batch_latency_buckets.empty() ? 0 : status.batch_latency_buckets.back(),
                    "\n");
    metric("guanxi_warnings_emitted_total", "counter",
           "Churn-warning notices published to the warnings topic (acknowledged).");
    absl::StrAppend(&out, "guanxi_warnings_emitted_total ", status.outbox.warnings, "\n");
    metric("guanxi_outbox_published_total", "counter",
           "Outbox messages published and acknowledged (warnings and relationship changes).");
    absl::StrAppend(&out, "guanxi_outbox_published_total ", status.outbox.published, "\n");
    metric("guanxi_outbox_unacknowledged", "gauge",
           "Outbox messages the publisher's current round sent and the broker has not "
           "acknowledged yet.");
    absl::StrAppend(&out, "guanxi_outbox_unacknowledged ", status.outbox.unacknowledged, "\n");
    metric("guanxi_outbox_failed_rounds_total", "counter",
           "Publishing rounds that failed (a message not acknowledged in time, or the outbox "
           "unreadable); what they did not deliver stays in the outbox for the next round.");
    absl::StrAppend(&out, "guanxi_outbox_failed_rounds_total ", status.outbox.failed_rounds, "\n");
    metric("guanxi_snapshots_taken_total", "counter",
           "Partition store snapshots put on the shelf (storage.snapshot_dir): on release and "
           "every snapshot_interval_seconds.");
    absl::StrAppend(&out, "guanxi_snapshots_taken_total ", status.snapshots.taken, "\n");
    metric("guanxi_snapshots_failed_total", "counter",
           "Partition store snapshots that could not be written (the partition moved "
           "without one: its next owner starts from an older one, or from offset 0).");
    absl::StrAppend(&out, "guanxi_snapshots_failed_total ", status.snapshots.failed, "\n");
    metric("guanxi_partitions_restored_total", "counter",
           "Partitions started from a snapshot instead of from the topic's offset 0.");
    absl::StrAppend(&out, "guanxi_partitions_restored_total ", status.snapshots.restored, "\n");
    metric("guanxi_outbox_depth", "gauge",
           "Outbox messages waiting to be published, per partition.");
    for (const PartitionView& view : options.partitions()) {
      auto checkpoint = view.store->ReadCheckpoint();
      std::vector<std::pair<uint64_t, guanxi::v1::OutboxEntry>> first;
      if (!checkpoint.ok() || !view.store->ReadOutbox(0, 1, &first).ok()) continue;
      const uint64_t depth =
          first.empty() ? 0 : checkpoint->next_outbox_sequence() - first.front().first;
      absl::StrAppend(&out, "guanxi_outbox_depth{partition=\"", view.partition, "\"} ", depth,
                      "\n");
    }
    // A 0/1 gauge a partition.
    auto partition_flag = [&](const char* name, const char* help, bool PartitionStatus::*flag) {
      metric(name, "gauge", help);
      for (const auto& p : status.partitions) {
        absl::StrAppend(&out, name, "{partition=\"", p.partition, "\"} ", p.*flag ? 1 : 0, "\n");
      }
    };
    partition_flag("guanxi_outbox_full",
                   "1 while a partition's outbox holds workers.outbox_max_entries messages the "
                   "broker has not taken: its projections wait, and its ingestion pauses, until "
                   "it does.",
                   &PartitionStatus::outbox_full);
    partition_flag("guanxi_partition_reclassifying",
                   "1 while the population model in force is still reclassifying a partition's "
                   "customers a few a record (some still show the previous model's classes).",
                   &PartitionStatus::reclassifying);
    res.set_content(out, "text/plain; version=0.0.4");
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() {
  impl_->stopping = true;
  impl_->server->stop();
  if (thread_.joinable()) thread_.join();
}

std::string HttpServer::Answer(std::string_view request) {
  httplib::Server& server = *impl_->server;
  return impl_->tls ? static_cast<AnsweringServer<httplib::SSLServer>&>(server).Answer(request)
                    : static_cast<AnsweringServer<httplib::Server>&>(server).Answer(request);
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options) {
  const size_t colon = options.address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(options.address.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http: '", options.address, "' is not HOST:PORT"));
  }
  const std::string host = options.address.substr(0, colon);
  ASSIGN_OR_RETURN(std::unique_ptr<HttpServer> result, Unbound(std::move(options)));
  httplib::Server& server = *result->impl_->server;
  const int bound =
      port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
  if (bound < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", result->impl_->options.address));
  }
  result->port_ = bound;
  Impl* self = result->impl_.get();
  result->thread_ = std::thread([self] { self->server->listen_after_bind(); });
  // Returns once the server runs: a stop() before that (the destructor of a server
  // destroyed at once) would find nothing to stop, and the listening thread would never
  // end. Bounded, in case the listener ends at once.
  for (int i = 0; i < 5000 && !server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return result;
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Unbound(HttpServerOptions options) {
  if (!options.admin_token.empty() && options.admin_token == options.bearer_token) {
    return absl::InvalidArgumentError(
        "--http-admin-token-file: the admin token is the read token (--http-token-file); "
        "give each role its own");
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "--http-tls-cert-file and --http-tls-key-file go together: give both or neither");
  }
  if (!options.tls_ca_file.empty()) {
    if (options.tls_cert_file.empty()) {
      return absl::InvalidArgumentError(
          "--http-tls-ca-file goes with --http-tls-cert-file (it verifies the other "
          "instances' HTTPS)");
    }
    if (!HoldsPemCertificate(options.tls_ca_file)) {
      return absl::InvalidArgumentError(absl::StrCat("--http-tls-ca-file: ", options.tls_ca_file,
                                                     " cannot be read or holds no PEM certificate"));
    }
  }
  if (options.max_requests < 1) {
    return absl::InvalidArgumentError("max_requests: must be at least 1");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  Impl* self = impl.get();
  const HttpServerOptions& opts = self->options;
  if (!opts.bearer_token.empty()) self->read_token = DigestOf(opts.bearer_token);
  if (!opts.admin_token.empty()) self->admin_token = DigestOf(opts.admin_token);
  if (!opts.tls_cert_file.empty()) {
    std::string error;
    auto tls_server = std::make_unique<AnsweringServer<httplib::SSLServer>>([&](SSL_CTX& ctx) {
      return SetUpTls(ctx, opts.tls_cert_file, opts.tls_key_file, error);
    });
    if (!tls_server->is_valid()) {
      return absl::InvalidArgumentError(
          error.empty() ? absl::StrCat("--http-tls-cert-file: cannot set up TLS (",
                                       OpenSslError(), ")")
                        : error);
    }
    impl->server = std::move(tls_server);
    impl->tls = true;
  } else {
    impl->server = std::make_unique<AnsweringServer<httplib::Server>>();
  }
  httplib::Server& server = *impl->server;
  server.set_pre_routing_handler([self](const httplib::Request& req, httplib::Response& res) {
    // A forwarded answer carries its owner's instead (Forward).
    if (!self->options.self.empty()) res.set_header(kServedBy, self->options.self);
    size_t header_bytes = 0;
    for (const auto& [name, value] : req.headers) header_bytes += name.size() + value.size();
    if (req.headers.size() > kMaxHeaderFields || header_bytes > self->options.max_header_bytes) {
      res.set_header("Connection", "close");
      Fail(res, 431,
           absl::StrCat("the request's header fields are too large: ", req.headers.size(),
                        " fields of ", header_bytes, " bytes (at most ", kMaxHeaderFields,
                        " fields of ", self->options.max_header_bytes, " bytes)"));
      return httplib::Server::HandlerResponse::Handled;
    }
    // The web view's files hold no data: the page loads, then asks for the token when
    // the API answers 401.
    if (const std::optional<web::File> file = WebFile(req.path); file && req.method == "GET") {
      res.set_header("Cache-Control", "no-cache");
      res.set_content(std::string(file->body), std::string(ContentType(file->path)));
      return httplib::Server::HandlerResponse::Handled;
    }
    // Probes carry no token; everything else needs one of the two (admin endpoints
    // check for the admin token themselves: RequireAdmin).
    if (req.path != "/healthz" && req.path != "/readyz" && self->RoleOf(req) == Role::kNone) {
      Impl::Unauthorized(res);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (absl::StartsWith(req.path, "/v1/") && !self->options.status().assigned) {
      res.set_header("Retry-After", "1");
      Fail(res, 503,
           "this instance is waiting for the consumer group to assign its partitions; "
           "retry shortly");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // The probes are never Limited: they must answer however busy the API is.
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server.Get("/readyz",
             [self](const httplib::Request&, httplib::Response& res) { self->Ready(res); });
  server.Get("/metrics", self->Limited([self](const httplib::Request&, httplib::Response& res) {
    self->Metrics(res);
  }));
  server.Get("/v1/customers",
             self->Limited([self](const httplib::Request& req, httplib::Response& res) {
               self->Customers(req, res);
             }));
  server.Get("/v1/portfolio",
             self->Limited([self](const httplib::Request& req, httplib::Response& res) {
               self->Portfolio(req, res);
             }));
  server.Get("/v1/warnings",
             self->Limited([self](const httplib::Request& req, httplib::Response& res) {
               self->Warnings(req, res);
             }));
  // Admin endpoints: Limited, and their handler starts with RequireAdmin.
  server.Get("/v1/admin/limits",
             self->Limited([self](const httplib::Request& req, httplib::Response& res) {
               if (!self->RequireAdmin(req, res)) return;
               self->Limits(res);
             }));
  // /v1/customers/{id}, /v1/customers/{id}/trail and POST /v1/customers/{id}/erase, told
  // apart by the raw request target (ParseCustomerPath).
  server.Get(R"(/v1/customers/(.+))",
             self->Limited([self](const httplib::Request& req, httplib::Response& res) {
               const std::optional<CustomerPath> path = ParseCustomerPath(req.target);
               if (!path || (!path->action.empty() && path->action != "trail")) {
                 return Fail(res, 404,
                             absl::StrCat("no such endpoint: ", req.method, " ", req.path));
               }
               if (path->action == "trail") return self->CustomerTrail(path->id, req, res);
               self->Customer(path->id, req, res);
             }));
  server.Post(R"(/v1/customers/(.+))",
              self->Limited([self](const httplib::Request& req, httplib::Response& res) {
                const std::optional<CustomerPath> path = ParseCustomerPath(req.target);
                if (!path || path->action != "erase") {
                  return Fail(res, 404,
                              absl::StrCat("no such endpoint: ", req.method, " ", req.path));
                }
                if (!self->RequireAdmin(req, res)) return;
                self->Erase(path->id, req, res);
              }));
  // Every error is JSON, those cpp-httplib answers itself included (no route; a request
  // it could not read, too large or with too long a target).
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) {
      return Fail(res, 404, absl::StrCat("no such endpoint: ", req.method, " ", req.path));
    }
    Fail(res, res.status,
         res.status == 400   ? "the request is malformed"
         : res.status == 413 ? "the request is too large"
         : res.status == 414 ? "the request target is too long"
                             : "the request could not be served");
  });
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res,
                                  std::exception_ptr) { Fail(res, 500, "internal error"); });
  server.new_task_queue = [] { return new httplib::ThreadPool(kHttpThreads); };
  server.set_read_timeout(kRequestReadSeconds, 0);
  server.set_keep_alive_timeout(kKeepAliveSeconds);
  server.set_keep_alive_max_count(kRequestsPerConnection);
  server.set_payload_max_length(opts.max_body_bytes);
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}


}  // namespace guanxi::engine
