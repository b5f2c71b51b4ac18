// The engine's HTTP API (`guanxi run --http ADDR`): customer state, lists, a customer's
// audit trail (live, or recomputed as of a time), churn warnings, health and Prometheus
// metrics, read from the live stores; and, for the admin token, a customer's erasure
// asked for. docs/api.md is the reference.
//
//   ASSIGN_OR_RETURN(auto server,
//                    HttpServer::Start({.address = "127.0.0.1:8080",
//                                       .partitions = [&] { return engine.Partitions(); },
//                                       .status = [&] { return engine.Status(); },
//                                       .data_dir = data, .config = config}));
//   ... server->port() ...
//
// Responses are JSON through protobuf's JSON mapping. A bad request is a 4xx with
// {"error": "..."}; nothing a client sends can crash the engine. With a token set (read
// or admin), every endpoint but /healthz, /readyz and the web view's files requires
// "Authorization: Bearer <token>" (401 without a valid one); admin endpoints require the
// admin token (403 with the read token). With a certificate and key, HTTPS only.
// Bounded: requests answered at once (/metrics and /v1/; 503 with Retry-After beyond),
// as-of recomputations at once (503 with Retry-After beyond), a request's body (413),
// target (414) and headers (431). docs/api.md, "Security and limits".
// Until the consumer group has assigned this instance its partitions (at start, and
// between a revocation and the next assignment), every /v1/ read answers 503 with
// Retry-After: which customers live here is not known yet.
// Thread-safe; requests are served on the server's own threads. Destroying the server
// cancels as-of recomputations in progress (their requests get a 503) and waits for the
// requests being served.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/config/config.h"
#include "engine/partition/status.h"
#include "engine/partition/view.h"
#include "guanxi/v1/config.pb.h"
#include "guanxi/v1/events.pb.h"

namespace guanxi::engine {

struct HttpServerOptions {
  // "host:port"; port 0 picks a free one (see port()).
  std::string address = "127.0.0.1:8080";
  // The read token (`--http-token-file`): /metrics and every GET of /v1/. Empty, and no
  // admin token: no authentication (the admin endpoints answer 403 all the same).
  std::string bearer_token{};
  // The admin token (`--http-admin-token-file`): everything the read token may, and the
  // admin endpoints. Must differ from the read token. Empty: admin endpoints answer 403.
  std::string admin_token{};
  // HTTPS (`--http-tls-cert-file`, `--http-tls-key-file`): the certificate chain (PEM,
  // the server's certificate first) and its private key (PEM, unencrypted). Both or
  // neither; a file that cannot be read or holds no such thing fails Start, naming the
  // flag and the file. With them, forwarded reads (owner_of) go over HTTPS too, verifying
  // the other instance's certificate against tls_ca_file.
  std::string tls_cert_file{};
  std::string tls_key_file{};
  // With TLS (`--http-tls-ca-file`): the CA certificates (PEM) that the other instances'
  // certificates must chain to for a read to be forwarded to them; empty: the system's
  // trusted CAs.
  std::string tls_ca_file{};
  std::function<std::vector<PartitionView>()> partitions{};
  std::function<EngineStatus()> status{};
  // For GET /v1/customers/{id}/trail?as_of=: the engine's data directory (the partition's
  // store is read from it as a RocksDB secondary; empty: as_of is answered 501) and its
  // configuration (the rules and thresholds the recomputation applies).
  std::string data_dir{};
  guanxi::v1::EngineConfig config = DefaultEngineConfig();
  // As-of trails recomputed at once (each a pass over a partition's whole log, on a
  // request thread); a request beyond gets 503 with Retry-After.
  int max_as_of_trails = 1;
  // Requests to /metrics and /v1/ being answered at once; one beyond gets 503 with
  // Retry-After: 1. Below the 32 request threads: requests being answered never hold
  // them all, and the probes (never refused) find one.
  int max_requests = 24;
  // The largest request body read (only the erasure takes one); a larger one gets 413.
  size_t max_body_bytes = 64 * 1024;
  // A request's header fields, names and values together, at most this many bytes (and
  // 100 fields); beyond: 431.
  size_t max_header_bytes = 16 * 1024;
  // GET /readyz answers ready once every owned partition is consumed, and projected, to
  // within this many messages of the broker's end.
  int64_t ready_lag = 1000;
  // With several instances (`guanxi run --advertise`): this instance's address as the
  // others reach it, and the owner of a partition it does not own
  // (InstanceDirectory::OwnerOf). A customer read whose home partition another instance
  // owns is forwarded there, once; without owner_of it is a 404.
  std::string self{};
  std::function<std::optional<std::string>(int32_t partition)> owner_of{};
  // POST /v1/customers/{id}/erase (admin token only): puts the erasure event
  // (engine/privacy/erasure.h) on the events topic and returns once the broker has
  // acknowledged it; Unavailable or DeadlineExceeded when it did not (the request is
  // answered 503: asking again is safe). `guanxi run` wires ProduceErasure. Empty: the
  // endpoint answers 501.
  std::function<absl::Status(const guanxi::v1::Event& erasure)> produce_erasure{};
};

// Reads a bearer token from a file (surrounding whitespace dropped). An empty or
// unreadable file, or a token with a character other than visible ASCII (a space or a
// control character could never be sent in a header as it is), is an error naming the
// file.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

class HttpServer {
 public:
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(HttpServerOptions options);
  // The same server listening nowhere (options.address is not read): it answers through
  // Answer() only. For the fuzzing harness (fuzz/http_request_fuzzer.cc) and tests.
  // Fails as Start does on options that cannot work (tokens, TLS files, limits).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Unbound(HttpServerOptions options);
  ~HttpServer();  // stops and joins

  // Answers one request as the server answers it on a connection: `request` is the bytes
  // a client sends (request line, headers, body), the result the bytes it would write
  // back, whole (status line, headers, body). Runs on the calling thread; thread-safe.
  std::string Answer(std::string_view request);
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace guanxi::engine
