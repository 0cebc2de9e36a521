#pragma once

// A v1::Connector's Microsoft Graph and OAuth2 settings for libs/mail's clients, and the Graph
// "test connection" (token, folder, message count). Shared by the fetcher and the config
// service; target postroom_mail_graph (libs/mail itself stays free of the protos).
#include <string>

#include "libs/mail/connection_check.h"
#include "libs/mail/graph_client.h"
#include "libs/mail/http_client.h"
#include "libs/mail/oauth_token_client.h"
#include "postroom/v1/config.pb.h"

namespace postroom::mail {

// auth.*: endpoint (default from tenant_id), client id and secret, scope (client credentials:
// https://graph.microsoft.com/.default), refresh token.
OAuthConfig OAuthConfigFor(const v1::Connector& c);

// Base URL: https://graph.microsoft.com/v1.0 unless server.host is set, then
// http(s)://host[:port]/v1.0 (http only with tls none, which config allows on loopback tests);
// mailbox: shared_mailbox, else primary_address.
GraphOptions GraphOptionsFor(const v1::Connector& c);

// Time-out (settings.timeout_ms, default 30 s) and server.ca_file, for both the Graph API and
// the token endpoint.
CurlOptions CurlOptionsFor(const v1::Connector& c);

// The folder Graph calls a mailbox folder: IMAP's "INBOX" is Graph's well-known "inbox".
std::string GraphFolderName(const std::string& folder);

// Steps "authentication" (a token from the endpoint), "folder" (the first mapped folder, default
// inbox) and "message_count"; for a connector that only sends, "authentication" and "mailbox"
// (its Sent Items folder read: the mailbox exists and the app may reach it). Each step carries
// the server's words. A rotated refresh token goes to `persist` before it is relied on. Never
// fails as a call.
ConnectionReport TestGraphConnection(const v1::Connector& c, const RefreshTokenSink& persist);

}  // namespace postroom::mail
