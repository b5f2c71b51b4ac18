#include "engine/storage/digest.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <memory>

namespace guanxi::engine {
namespace {

struct CtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

}  // namespace

Sha256Digest Sha256(std::string_view bytes) {
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local const std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  Sha256Digest d;
  unsigned int n = 0;
  if (sha256 == nullptr || ctx == nullptr || EVP_DigestInit_ex2(ctx.get(), sha256, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), d.data(), &n) != 1 || n != d.size()) {
    // The one-shot: the same digest.
    SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), d.data());
  }
  return d;
}

}  // namespace guanxi::engine
