/*
 * One HTTP exchange over a libcurl easy handle. Bodies are bounded (a
 * hostile server cannot make us hold more than max_body bytes); request
 * bodies are either memory or streamed through a read callback. Nothing
 * here knows about registries, authentication or retries.
 */
#ifndef STW_LIB_HTTP_H
#define STW_LIB_HTTP_H

#include "buf.h"
#include "sink.h"

#include <stddef.h>
#include <sys/types.h>

struct http_tls {
	int verify;         /* 0: accept any certificate */
	const char *ca_pem; /* extra trusted CAs (PEM), may be NULL */
	size_t ca_pem_len;
};

/* Streams a request body: returns bytes written to dst (0 at the end) or
 * -1 to abort the transfer. */
typedef ssize_t (*http_body_reader)(void *ctx, char *dst, size_t len);

struct http_request {
	const char *method;       /* "GET", "HEAD", "PUT", "POST", "PATCH", "DELETE" */
	const char *url;
	const char *authorization;/* whole header value, or NULL; never logged */
	const char *content_type; /* or NULL */
	const char *accept;       /* or NULL */
	const void *body;         /* memory body (may be empty), or NULL */
	size_t body_len;
	http_body_reader reader;  /* streamed body, when body is NULL */
	void *reader_ctx;
	long long reader_length;  /* streamed body's length, or 0 for chunked */
	const char *content_range; /* or NULL */
	int follow_redirects;     /* GETs of blobs may be redirected to storage */
	size_t max_body;          /* response body cap; 0: 1 MiB */
	struct sink *body_sink;   /* when set, a 2xx body streams here (uncapped, not
				     finished) instead of into resp->body */
	long timeout_s;           /* whole exchange; 0: none (stall guard still on) */
};

struct http_response {
	long status;
	struct buf body;
	char *location;
	char *www_authenticate;
	char *content_digest;  /* Docker-Content-Digest */
	char *content_type;
	char *range;
	long retry_after;      /* seconds, -1 when absent */
	int curl_code;         /* CURLcode of the transfer */
	int streamed;          /* body bytes went to the request's body_sink */
	int sink_failed;       /* the body_sink failed: stw_error says why */
	char error[256];       /* curl's words when the transfer failed */
};

void http_response_init(struct http_response *r);
void http_response_release(struct http_response *r);

/* Runs the exchange on handle (a CURL *). Returns 0 when an HTTP response
 * arrived (any status), -1 on a transport failure (resp->curl_code and
 * resp->error say which). */
int http_perform(void *handle, const struct http_tls *tls, const struct http_request *req,
		 struct http_response *resp);

/* 1 when a transport failure is worth retrying (reset, timeout, refused). */
int http_transport_retryable(const struct http_response *resp);
/* 1 when the failure is a TLS problem (handshake, certificate). */
int http_transport_tls_error(const struct http_response *resp);

void *http_handle_new(void);
void http_handle_free(void *handle);

/* Resolves a Location header against the request URL. */
int http_resolve_location(char **out, const char *request_url, const char *location);

#endif
