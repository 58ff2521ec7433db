#include "http.h"
#include "curl_api.h"
#include "error.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_MAX_BODY (1u << 20)

void http_response_init(struct http_response *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body);
	r->retry_after = -1;
}

static void clear_headers(struct http_response *r)
{
	free(r->location);
	free(r->www_authenticate);
	free(r->content_digest);
	free(r->content_type);
	free(r->range);
	r->location = r->www_authenticate = r->content_digest = r->content_type = r->range = NULL;
	r->retry_after = -1;
}

void http_response_release(struct http_response *r)
{
	clear_headers(r);
	buf_release(&r->body);
}

void *http_handle_new(void)
{
	if (stw_curl_init() < 0)
		return NULL;
	return curl_easy_init();
}

void http_handle_free(void *handle)
{
	if (handle)
		curl_easy_cleanup(handle);
}

struct exchange {
	CURL *handle;
	const struct http_request *req;
	struct http_response *resp;
	size_t max_body;
	int too_big;
	const char *body;
	size_t body_left;
};

static char *header_value(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);
	const char *v, *end = line + len;
	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	v = line + n + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	return strndup(v, (size_t)(end - v));
}

static void keep(char **slot, char *value)
{
	if (!value)
		return;
	free(*slot);
	*slot = value;
}

static size_t on_header(char *data, size_t size, size_t count, void *ctx)
{
	struct exchange *x = ctx;
	size_t len = size * count;
	char *v;

	if (len >= 5 && !strncmp(data, "HTTP/", 5)) { /* a new response: a redirect hop or 100 */
		clear_headers(x->resp);
		buf_reset(&x->resp->body);
		return len;
	}
	keep(&x->resp->location, header_value(data, len, "location"));
	if ((v = header_value(data, len, "www-authenticate"))) {
		/* several challenge lines are one list (RFC 7235) */
		if (x->resp->www_authenticate) {
			struct buf joined;
			buf_init(&joined);
			if (buf_addf(&joined, "%s, %s", x->resp->www_authenticate, v) == 0)
				keep(&x->resp->www_authenticate, buf_detach(&joined, NULL));
			free(v);
		} else {
			x->resp->www_authenticate = v;
		}
	}
	keep(&x->resp->content_digest, header_value(data, len, "docker-content-digest"));
	keep(&x->resp->content_type, header_value(data, len, "content-type"));
	keep(&x->resp->range, header_value(data, len, "range"));
	if ((v = header_value(data, len, "retry-after"))) {
		char *end;
		long s = strtol(v, &end, 10);
		x->resp->retry_after = (*v && !*end && s >= 0) ? s : -1; /* HTTP dates: not honoured */
		free(v);
	}
	return len;
}

static size_t on_body(char *data, size_t size, size_t count, void *ctx)
{
	struct exchange *x = ctx;
	size_t len = size * count;
	long status = 0;

	if (x->req->body_sink) {
		curl_easy_getinfo(x->handle, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300) {
			x->resp->streamed = 1;
			if (sink_write(x->req->body_sink, data, len) < 0) {
				x->resp->sink_failed = 1;
				return 0;
			}
			return len;
		}
	}
	if (x->resp->body.len + len > x->max_body) {
		x->too_big = 1;
		return 0; /* aborts the transfer */
	}
	return buf_add(&x->resp->body, data, len) < 0 ? 0 : len;
}

static size_t on_read(char *dst, size_t size, size_t count, void *ctx)
{
	struct exchange *x = ctx;
	size_t len = size * count;
	if (x->req->reader) {
		ssize_t n = x->req->reader(x->req->reader_ctx, dst, len);
		return n < 0 ? CURL_READFUNC_ABORT : (size_t)n;
	}
	if (len > x->body_left)
		len = x->body_left;
	memcpy(dst, x->body, len);
	x->body += len;
	x->body_left -= len;
	return len;
}

static int add_header(struct curl_slist **list, const char *name, const char *value)
{
	struct buf line;
	struct curl_slist *grown;

	if (!value)
		return 0;
	buf_init(&line);
	if (buf_addf(&line, "%s: %s", name, value) < 0)
		return -1;
	grown = curl_slist_append(*list, line.data);
	/* the Authorization line may hold a secret */
	memset(line.data, 0, line.len);
	buf_release(&line);
	if (!grown)
		return stw_error("out of memory");
	*list = grown;
	return 0;
}

static void free_headers(struct curl_slist *list)
{
	for (struct curl_slist *l = list; l; l = l->next)
		memset(l->data, 0, strlen(l->data));
	curl_slist_free_all(list);
}

static void set_method(CURL *h, const struct http_request *req, struct exchange *x)
{
	int has_body = req->body || req->reader;

	if (!strcmp(req->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		return;
	}
	if (!strcmp(req->method, "GET"))
		return;
	if (has_body) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, x);
		if (req->body)
			curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
		else if (req->reader_length > 0)
			curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->reader_length);
		if (req->reader) /* a streamed layer: fewer, bigger reads and sends */
			curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
	} else if (!strcmp(req->method, "POST") || !strcmp(req->method, "PUT") || !strcmp(req->method, "PATCH")) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, x);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)0);
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
}

int http_perform(void *handle, const struct http_tls *tls, const struct http_request *req,
		 struct http_response *resp)
{
	CURL *h = handle;
	struct curl_slist *headers = NULL;
	struct exchange x = { .handle = h, .req = req, .resp = resp, .body = req->body, .body_left = req->body_len };
	struct curl_blob ca;
	CURLcode rc;
	int ret = -1;

	x.max_body = req->max_body ? req->max_body : DEFAULT_MAX_BODY;
	clear_headers(resp);
	buf_reset(&resp->body);
	resp->status = 0;
	resp->curl_code = 0;
	resp->streamed = 0;
	resp->sink_failed = 0;
	resp->error[0] = 0;
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, resp->error);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "stowage/0.1");
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	/* a stalled server: under 1 KiB/s for 60 s ends the exchange */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	if (req->timeout_s)
		curl_easy_setopt(h, CURLOPT_TIMEOUT, req->timeout_s);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (req->follow_redirects) {
		/* libcurl never sends our Authorization header to another host
		 * unless CURLOPT_UNRESTRICTED_AUTH is set, and it is not */
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	}
	if (tls && !tls->verify) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (tls && tls->ca_pem) {
		ca.data = (void *)tls->ca_pem;
		ca.len = tls->ca_pem_len;
		ca.flags = CURL_BLOB_NOCOPY;
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
	}
	if (add_header(&headers, "Authorization", req->authorization) < 0 ||
	    add_header(&headers, "Content-Type", req->content_type) < 0 ||
	    add_header(&headers, "Accept", req->accept) < 0 || add_header(&headers, "Expect", "") < 0 ||
	    add_header(&headers, "Content-Range", req->content_range) < 0)
		goto out;
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	set_method(h, req, &x);
	rc = curl_easy_perform(h);
	resp->curl_code = (int)rc;
	if (rc != CURLE_OK) {
		if (x.too_big)
			snprintf(resp->error, sizeof(resp->error), "response larger than %zu bytes", x.max_body);
		else if (resp->sink_failed)
			snprintf(resp->error, sizeof(resp->error), "%s", stw_error_last());
		else if (!resp->error[0])
			snprintf(resp->error, sizeof(resp->error), "%s", curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	ret = 0;
out:
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	free_headers(headers);
	return ret;
}

int http_transport_retryable(const struct http_response *r)
{
	switch (r->curl_code) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SEND_FAIL_REWIND: /* a reused connection died under a request body */
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

int http_transport_tls_error(const struct http_response *r)
{
	switch (r->curl_code) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return 1;
	default:
		return 0;
	}
}

int http_resolve_location(char **out, const char *request_url, const char *location)
{
	CURLU *u = curl_url();
	char *resolved = NULL;
	int ret = -1;

	*out = NULL;
	if (!u)
		return stw_error("out of memory");
	if (curl_url_set(u, CURLUPART_URL, request_url, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_URL, location, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &resolved, 0) != CURLUE_OK) {
		stw_error("the registry sent an unusable Location '%.200s'", location);
		goto out;
	}
	*out = strdup(resolved);
	ret = *out ? 0 : stw_error("out of memory");
out:
	curl_free(resolved);
	curl_url_cleanup(u);
	return ret;
}
