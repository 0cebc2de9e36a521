#pragma once

// The core's MailConnector over libs/mail (ImapClient, Pop3Client, GraphClient).

#include <atomic>

#include "libs/mail/imap_client.h"
#include "libs/mail/pop3_client.h"
#include "libs/secrets/keyring.h"
#include "services/fetcher/core/ports.h"
#include "libs/mail/oauth_tokens.h"

namespace postroom::fetcher {

// Host, port (the protocol's default when 0), TLS mode and CA file of a connector.
mail::ServerOptions ServerOptionsFor(const v1::Connector& c, absl::Duration timeout);
// User and secret: the password (LOGIN / USER+PASS), or with auth.method oauth2 an access
// token from `oauth` for SASL XOAUTH2 (user: auth.username, else primary_address).
// FAILED_PRECONDITION for oauth2 without `oauth`; token errors as OAuthTokenClient's.
absl::StatusOr<mail::Credentials> CredentialsFor(const v1::Connector& c,
                                                 mail::OAuthTokens* oauth = nullptr);

class LibMailConnector : public MailConnector {
 public:
  // `fetch` is handed to UidFetchMessages (batch size, pipeline depth). `oauth` (not owned, may
  // be null: no OAuth2 connectors) gives Graph sessions and XOAUTH2 logins their tokens.
  explicit LibMailConnector(mail::FetchOptions fetch = {}, mail::OAuthTokens* oauth = nullptr)
      : fetch_(fetch), oauth_(oauth) {}
  absl::StatusOr<std::unique_ptr<ImapSession>> OpenImap(const v1::Connector& c) override;
  absl::StatusOr<std::unique_ptr<Pop3Session>> OpenPop3(const v1::Connector& c) override;
  // graph_adapter.cc
  absl::StatusOr<std::unique_ptr<GraphSession>> OpenGraph(const v1::Connector& c) override;

  // IMAP commands sent by every session closed so far (round-trip accounting for benchmarks).
  uint64_t imap_commands() const { return imap_commands_.load(); }

 private:
  mail::FetchOptions fetch_;
  std::atomic<uint64_t> imap_commands_{0};
  mail::OAuthTokens* oauth_;
};

}  // namespace postroom::fetcher
