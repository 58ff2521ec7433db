/*
 * A session with one registry: where it answers (https, or http for
 * loopback and --tls-verify=false), how it authenticates (none, Basic, or
 * Bearer tokens cached per scope until they expire), and requests with
 * retries (capped exponential backoff with jitter on 408/429/5xx and
 * connection failures, honouring Retry-After). Credentials never appear in
 * an error message. A session is shared by threads: each takes a curl
 * handle from the session's pool for the duration of its work.
 */
#ifndef STW_LIB_REGISTRY_H
#define STW_LIB_REGISTRY_H

#include "credentials.h"
#include "http.h"

#include <pthread.h>
#include <time.h>

struct registry_token {
	char *scope;
	char *value;
	time_t expires;
};

enum registry_auth { REGISTRY_AUTH_NONE, REGISTRY_AUTH_BASIC, REGISTRY_AUTH_BEARER };

struct registry {
	char *host; /* as the user wrote it: credentials are looked up by it */
	char *base; /* "https://host" or "http://host" */
	struct http_tls tls;
	struct registry_credentials creds; /* username NULL: anonymous */
	enum registry_auth auth;
	char *realm, *service;
	pthread_mutex_t lock; /* guards tokens and handles */
	struct registry_token *tokens;
	size_t token_count;
	void **handles;
	size_t handle_count;
	char *ca_pem; /* owned; tls.ca_pem points here */
};

/* Takes ownership of *creds (cleared) and of ca_pem (extra trusted CAs
 * as PEM, or NULL), whatever the outcome. */
int registry_open(struct registry **out, const char *host, struct registry_credentials *creds, int tls_verify,
		  char *ca_pem, size_t ca_pem_len);
void registry_close(struct registry *r);

void *registry_handle_take(struct registry *r);
void registry_handle_give(struct registry *r, void *handle);

/* "repository:REPO:push,pull" and friends; several scopes space-separated. */
int registry_scope(char **out, const char *repo, const char *actions, const char *extra_pull_repo);

/* Runs req with authentication for scope and retries. 0 when a final HTTP
 * response arrived (the caller judges its status), -1 when the registry
 * could not be reached or refused the credentials (message recorded).
 * Streamed bodies (req->reader) are never retried here. */
int registry_request(struct registry *r, void *handle, const char *scope, const struct http_request *req,
		     struct http_response *resp);

/* PUTs manifest bytes (exactly as given) under reference (a tag or a
 * digest) of repo, and fails unless the registry stored them under the
 * digest they have; that digest is written to digest_out. */
int registry_put_manifest(struct registry *r, void *handle, const char *scope, const char *repo,
			  const char *reference, const char *bytes, size_t len, const char *media_type,
			  char digest_out[72]);

/* "CODE: message" from a registry error body, or "HTTP N". */
void registry_error_text(char *out, size_t len, const struct http_response *resp);

/* Builds "BASE/v2/REPO/" followed by the formatted suffix. */
int registry_url(char **out, const struct registry *r, const char *repo, const char *suffix_fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Sleeps before retry number attempt (1-based), honouring Retry-After. */
void registry_backoff(int attempt, long retry_after);

#endif
