#include "registry.h"
#include "buf.h"
#include "digest.h"
#include "error.h"
#include "registry_ref.h"
#include "www_authenticate.h"

#include "curl_api.h"
#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ATTEMPTS 5
#define MAX_BACKOFF_MS 10000
#define MAX_RETRY_AFTER_S 60
#define TOKEN_SLACK_S 10

static atomic_uint_fast64_t jitter_state = 0x9e3779b97f4a7c15ULL;

static uint64_t jitter_next(void)
{
	uint64_t x = atomic_fetch_add(&jitter_state, 0x9e3779b97f4a7c15ULL);
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	return x;
}

void registry_backoff(int attempt, long retry_after)
{
	long ms;
	if (retry_after >= 0) {
		ms = (retry_after > MAX_RETRY_AFTER_S ? MAX_RETRY_AFTER_S : retry_after) * 1000;
	} else {
		ms = 200L << (attempt > 6 ? 6 : attempt - 1);
		if (ms > MAX_BACKOFF_MS)
			ms = MAX_BACKOFF_MS;
		ms = ms / 2 + (long)(jitter_next() % (uint64_t)(ms / 2 + 1)); /* 50-100% */
	}
	usleep((useconds_t)ms * 1000);
}

int registry_url(char **out, const struct registry *r, const char *repo, const char *suffix_fmt, ...)
{
	struct buf b;
	va_list ap;
	int rc;

	buf_init(&b);
	va_start(ap, suffix_fmt);
	rc = buf_addf(&b, "%s/v2/%s/", r->base, repo) < 0 ? -1 : buf_vaddf(&b, suffix_fmt, ap);
	va_end(ap);
	if (rc < 0) {
		buf_release(&b);
		return -1;
	}
	*out = buf_detach(&b, NULL);
	return *out ? 0 : stw_error("out of memory");
}

int registry_scope(char **out, const char *repo, const char *actions, const char *extra_pull_repo)
{
	struct buf b;
	buf_init(&b);
	/* push first: a few registries only look at the first scope */
	if (buf_addf(&b, "repository:%s:%s", repo, actions) < 0 ||
	    (extra_pull_repo && buf_addf(&b, " repository:%s:pull", extra_pull_repo) < 0))
		return -1;
	*out = buf_detach(&b, NULL);
	return *out ? 0 : stw_error("out of memory");
}

void registry_error_text(char *out, size_t len, const struct http_response *resp)
{
	json_t *root = json_loadb(resp->body.data, resp->body.len, 0, NULL);
	json_t *first = json_array_get(json_object_get(root, "errors"), 0);
	const char *code = json_string_value(json_object_get(first, "code"));
	const char *message = json_string_value(json_object_get(first, "message"));

	if (code || message)
		snprintf(out, len, "%s%s%.200s (HTTP %ld)", code ? code : "", code && message ? ": " : "",
			 message ? message : "", resp->status);
	else
		snprintf(out, len, "HTTP %ld", resp->status);
	json_decref(root);
}

int registry_put_manifest(struct registry *r, void *handle, const char *scope, const char *repo,
			  const char *reference, const char *bytes, size_t len, const char *media_type,
			  char digest_out[72])
{
	struct http_request req = { .method = "PUT", .body = bytes, .body_len = len, .content_type = media_type,
				    .timeout_s = 120 };
	struct http_response resp;
	char *url = NULL;
	int ret = -1;

	http_response_init(&resp);
	if (sha256_digest(digest_out, bytes, len) < 0 || registry_url(&url, r, repo, "manifests/%s", reference) < 0)
		goto out;
	req.url = url;
	if (registry_request(r, handle, scope, &req, &resp) < 0)
		goto out;
	if (resp.status != 201 && resp.status != 200) {
		char why[300];
		registry_error_text(why, sizeof(why), &resp);
		stw_error("the registry refused the manifest for %s/%s:%s: %s", r->host, repo, reference, why);
		goto out;
	}
	if (resp.content_digest && strcmp(resp.content_digest, digest_out) != 0) {
		stw_error("the registry stored the manifest for %s/%s:%s as %s, not %s", r->host, repo, reference,
			  resp.content_digest, digest_out);
		goto out;
	}
	ret = 0;
out:
	free(url);
	http_response_release(&resp);
	return ret;
}

/* ---- curl handles ---- */

void *registry_handle_take(struct registry *r)
{
	void *h = NULL;
	pthread_mutex_lock(&r->lock);
	if (r->handle_count)
		h = r->handles[--r->handle_count];
	pthread_mutex_unlock(&r->lock);
	if (!h && !(h = http_handle_new()))
		stw_error("cannot create an HTTP handle");
	return h;
}

void registry_handle_give(struct registry *r, void *h)
{
	void **v;
	if (!h)
		return;
	pthread_mutex_lock(&r->lock);
	v = realloc(r->handles, (r->handle_count + 1) * sizeof(*v));
	if (v) {
		r->handles = v;
		r->handles[r->handle_count++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&r->lock);
	http_handle_free(h);
}

/* ---- tokens ---- */

static void token_release(struct registry_token *t)
{
	free(t->scope);
	if (t->value)
		memset(t->value, 0, strlen(t->value));
	free(t->value);
}

/* A copy of a cached, unexpired token for scope, or NULL. */
static char *token_get(struct registry *r, const char *scope)
{
	char *value = NULL;
	time_t now = time(NULL);
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->token_count; i++)
		if (!strcmp(r->tokens[i].scope, scope) && r->tokens[i].expires > now)
			value = strdup(r->tokens[i].value);
	pthread_mutex_unlock(&r->lock);
	return value;
}

static void token_put(struct registry *r, const char *scope, const char *value, long expires_in)
{
	struct registry_token t = { strdup(scope), strdup(value), time(NULL) + expires_in - TOKEN_SLACK_S };
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->token_count; i++)
		if (!strcmp(r->tokens[i].scope, scope)) {
			token_release(&r->tokens[i]);
			r->tokens[i] = r->tokens[--r->token_count];
			break;
		}
	if (t.scope && t.value) {
		struct registry_token *v = realloc(r->tokens, (r->token_count + 1) * sizeof(*v));
		if (v) {
			r->tokens = v;
			r->tokens[r->token_count++] = t;
			t.scope = t.value = NULL;
		}
	}
	pthread_mutex_unlock(&r->lock);
	token_release(&t);
}

static int append_query(struct buf *url, const char *key, const char *value, int *first)
{
	char *escaped = curl_easy_escape(NULL, value, 0);
	int ret;
	if (!escaped)
		return stw_error("out of memory");
	ret = buf_addf(url, "%c%s=%s", *first ? (strchr(url->data, '?') ? '&' : '?') : '&', key, escaped);
	*first = 0;
	curl_free(escaped);
	return ret;
}

/* An identity (refresh) token is exchanged with the OAuth2 POST form;
 * servers without it answer 404 and the GET form is used instead. */
static int oauth2_body(struct buf *body, const struct registry *r, const char *scope)
{
	char *service = curl_easy_escape(NULL, r->service ? r->service : "", 0);
	char *token = curl_easy_escape(NULL, r->creds.identity_token, 0);
	char *scopes = curl_easy_escape(NULL, scope, 0);
	int ret = -1;

	if (service && token && scopes)
		ret = buf_addf(body, "grant_type=refresh_token&client_id=stowage&service=%s&scope=%s&refresh_token=%s",
			       service, scopes, token);
	if (token)
		memset(token, 0, strlen(token));
	curl_free(service);
	curl_free(token);
	curl_free(scopes);
	return ret;
}

/* GET realm?service=..&scope=.. (one scope parameter per scope). */
static int fetch_token(struct registry *r, void *h, const char *scope)
{
	struct http_request req = { .method = "GET", .max_body = 1 << 20, .timeout_s = 60 };
	struct buf form;
	struct http_response resp;
	struct buf url;
	char *basic = NULL, *scopes = strdup(scope), *save = NULL, *token_text;
	json_t *root = NULL, *token, *expires;
	int first = 1, ret = -1;

	http_response_init(&resp);
	buf_init(&url);
	buf_init(&form);
	if (r->creds.identity_token) {
		req.method = "POST";
		req.url = r->realm;
		req.content_type = "application/x-www-form-urlencoded";
		if (oauth2_body(&form, r, scope) < 0)
			goto out;
		req.body = form.data;
		req.body_len = form.len;
		if (http_perform(h, &r->tls, &req, &resp) == 0 && resp.status != 404)
			goto answered;
		req = (struct http_request){ .method = "GET", .max_body = 1 << 20, .timeout_s = 60 };
	}
	if (!scopes || buf_adds(&url, r->realm) < 0 || (r->service && append_query(&url, "service", r->service, &first) < 0))
		goto out;
	for (char *s = strtok_r(scopes, " ", &save); s; s = strtok_r(NULL, " ", &save))
		if (append_query(&url, "scope", s, &first) < 0)
			goto out;
	if (r->creds.username && credentials_basic_header(&basic, &r->creds) < 0)
		goto out;
	req.url = url.data;
	req.authorization = basic;
	for (int attempt = 1;; attempt++) {
		int rc = http_perform(h, &r->tls, &req, &resp);
		if (rc == 0 && resp.status < 500 && resp.status != 429 && resp.status != 408)
			break;
		if (attempt == MAX_ATTEMPTS || (rc < 0 && !http_transport_retryable(&resp))) {
			if (rc < 0)
				stw_error("cannot reach the token service of %s: %s", r->host, resp.error);
			else
				stw_error("the token service of %s failed: HTTP %ld", r->host, resp.status);
			goto out;
		}
		registry_backoff(attempt, resp.retry_after);
	}
answered:
	if (resp.status == 401 || resp.status == 403) {
		stw_error("authentication to %s failed: the token service refused the credentials%s", r->host,
			  r->creds.username || r->creds.identity_token ? "" : " (none were given: use --creds or an auth file)");
		goto out;
	}
	if (resp.status != 200) {
		stw_error("the token service of %s answered HTTP %ld", r->host, resp.status);
		goto out;
	}
	root = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	token = json_object_get(root, "token");
	if (!json_is_string(token))
		token = json_object_get(root, "access_token");
	expires = json_object_get(root, "expires_in");
	token_text = (char *)json_string_value(token);
	if (!token_text || !*token_text) {
		stw_error("the token service of %s sent no token", r->host);
		goto out;
	}
	token_put(r, scope, token_text,
		  json_is_integer(expires) && json_integer_value(expires) > TOKEN_SLACK_S ? (long)json_integer_value(expires) : 60);
	memset(token_text, 0, strlen(token_text));
	ret = 0;
out:
	if (basic)
		memset(basic, 0, strlen(basic));
	free(basic);
	free(scopes);
	if (form.len)
		memset(form.data, 0, form.len);
	buf_release(&form);
	json_decref(root);
	if (resp.body.len)
		memset(resp.body.data, 0, resp.body.len);
	http_response_release(&resp);
	buf_release(&url);
	return ret;
}

/* Learns the scheme the registry wants from a 401's challenge. */
static int learn_challenge(struct registry *r, const struct http_response *resp)
{
	struct auth_challenge c = { 0 };
	int ret = -1;

	if (!resp->www_authenticate)
		return stw_error("%s answered 401 without a WWW-Authenticate challenge", r->host);
	if (auth_challenge_parse(&c, resp->www_authenticate) < 0)
		return stw_error_wrap("%s sent a challenge stowage cannot use", r->host);
	pthread_mutex_lock(&r->lock);
	if (!strcmp(c.scheme, "bearer")) {
		if (!c.realm || strncmp(c.realm, "http", 4) != 0) {
			pthread_mutex_unlock(&r->lock);
			stw_error("%s sent a Bearer challenge without a usable realm", r->host);
			goto out;
		}
		free(r->realm);
		free(r->service);
		r->realm = strdup(c.realm);
		r->service = c.service ? strdup(c.service) : NULL;
		r->auth = REGISTRY_AUTH_BEARER;
	} else {
		r->auth = REGISTRY_AUTH_BASIC;
	}
	pthread_mutex_unlock(&r->lock);
	ret = 0;
out:
	auth_challenge_release(&c);
	return ret;
}

/* The Authorization value for scope, fetching a token when needed. */
static int authorization(char **out, struct registry *r, void *h, const char *scope, int refresh)
{
	*out = NULL;
	if (r->auth == REGISTRY_AUTH_BASIC) {
		if (!r->creds.username)
			return stw_error("%s requires authentication: give --creds USER:PASS or an auth file", r->host);
		return credentials_basic_header(out, &r->creds);
	}
	if (r->auth == REGISTRY_AUTH_BEARER) {
		struct buf b;
		char *token = refresh ? NULL : token_get(r, scope);
		if (!token) {
			if (fetch_token(r, h, scope) < 0)
				return -1;
			token = token_get(r, scope);
			if (!token)
				return stw_error("out of memory");
		}
		buf_init(&b);
		if (buf_addf(&b, "Bearer %s", token) < 0) {
			free(token);
			return -1;
		}
		memset(token, 0, strlen(token));
		free(token);
		*out = buf_detach(&b, NULL);
	}
	return 0;
}

static void free_secret(char *s)
{
	if (s)
		memset(s, 0, strlen(s));
	free(s);
}

/* scheme://host:port of url (default port made explicit), or NULL. */
static char *url_origin(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *out = NULL;
	struct buf b;

	buf_init(&b);
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
	    buf_addf(&b, "%s://%s:%s", scheme, host, port) == 0)
		out = buf_detach(&b, NULL);
	buf_release(&b);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return out;
}

/* Credentials go only to the registry itself: an upload Location (or any
 * URL the registry hands out) naming another origin gets none, as with
 * Docker, which answers only the host that challenged it. */
static int same_origin(const char *base, const char *url)
{
	char *a = url_origin(base), *b = url_origin(url);
	int same = a && b && !strcmp(a, b);
	free(a);
	free(b);
	return same;
}

int registry_request(struct registry *r, void *h, const char *scope, const struct http_request *req,
		     struct http_response *resp)
{
	struct http_request attempt_req = *req;
	int refreshed = 0;

	for (int attempt = 1;; attempt++) {
		char *auth = NULL;
		int rc;

		if (same_origin(r->base, req->url) && authorization(&auth, r, h, scope, 0) < 0)
			return -1;
		attempt_req.authorization = auth;
		rc = http_perform(h, &r->tls, &attempt_req, resp);
		free_secret(auth);
		if (rc < 0 && resp->sink_failed)
			return -1; /* the body's consumer said why */
		if (rc < 0) {
			/* a streamed body cannot be sent or taken twice */
			if (req->reader || resp->streamed || attempt == MAX_ATTEMPTS || !http_transport_retryable(resp))
				return stw_error("cannot reach %s: %s", r->host, resp->error);
			registry_backoff(attempt, -1);
			continue;
		}
		if (resp->status == 401 && !refreshed && !req->reader) {
			/* a first challenge, an expired token or a scope the
			 * token lacks (insufficient_scope): learn and retry once */
			refreshed = 1;
			if (learn_challenge(r, resp) < 0)
				return -1;
			if (r->auth == REGISTRY_AUTH_BEARER && fetch_token(r, h, scope) < 0)
				return -1;
			attempt--;
			continue;
		}
		if (resp->status == 401) {
			char why[300];
			registry_error_text(why, sizeof(why), resp);
			return stw_error("authentication to %s failed: %s", r->host, why);
		}
		if ((resp->status == 408 || resp->status == 429 || resp->status >= 500) && !req->reader &&
		    attempt < MAX_ATTEMPTS) {
			registry_backoff(attempt, resp->retry_after);
			continue;
		}
		return 0;
	}
}

/* ---- opening ---- */

static int ping(struct registry *r, void *h, struct http_response *resp, int attempts)
{
	struct http_request req = { .method = "GET", .timeout_s = 60 };
	struct buf root;
	char *url;
	int rc;

	buf_init(&root);
	if (buf_addf(&root, "%s/v2/", r->base) < 0)
		return -1;
	if (!(url = buf_detach(&root, NULL)))
		return stw_error("out of memory");
	req.url = url;
	for (int attempt = 1;; attempt++) {
		rc = http_perform(h, &r->tls, &req, resp);
		if (rc == 0 && resp->status < 500)
			break;
		if (attempt >= attempts || (rc < 0 && !http_transport_retryable(resp)))
			break;
		registry_backoff(attempt, resp->retry_after);
	}
	free(url);
	return rc;
}

static int set_base(struct registry *r, const char *scheme)
{
	struct buf b;
	buf_init(&b);
	if (buf_addf(&b, "%s://%s", scheme, registry_api_host(r->host)) < 0)
		return -1;
	free(r->base);
	r->base = buf_detach(&b, NULL);
	return r->base ? 0 : stw_error("out of memory");
}

int registry_open(struct registry **out, const char *host, struct registry_credentials *creds, int tls_verify,
		  char *ca_pem, size_t ca_pem_len)
{
	struct registry *r = calloc(1, sizeof(*r));
	struct http_response resp;
	void *h = NULL;
	int ret = -1, rc;

	*out = NULL;
	http_response_init(&resp);
	if (!r) {
		free(ca_pem);
		registry_credentials_release(creds);
		stw_error("out of memory");
		goto out;
	}
	pthread_mutex_init(&r->lock, NULL);
	r->ca_pem = ca_pem;
	r->creds = *creds;
	memset(creds, 0, sizeof(*creds));
	r->host = strdup(host);
	r->tls.verify = tls_verify;
	r->tls.ca_pem = ca_pem;
	r->tls.ca_pem_len = ca_pem_len;
	if (!r->host || !(h = registry_handle_take(r)))
		goto out;
	/* on loopback, plain HTTP first: a TLS attempt there costs loading
	 * the system CAs, a third of a no-op push's CPU; a TLS registry
	 * answers the plain request with an error and gets TLS below */
	rc = -1;
	if (registry_host_is_loopback(host)) {
		if (set_base(r, "http") < 0)
			goto out;
		rc = ping(r, h, &resp, 1); /* a probe: no retries */
		if (rc == 0 && resp.status != 200 && resp.status != 401)
			rc = -1;
	}
	if (rc < 0) {
		if (set_base(r, "https") < 0)
			goto out;
		rc = ping(r, h, &resp, 3);
	}
	/* plain HTTP: only when asked, or on loopback where a registry
	 * without TLS is the convention; a certificate that fails
	 * verification is never silently downgraded */
	if (rc < 0 && resp.curl_code == CURLE_SSL_CONNECT_ERROR &&
	    (!tls_verify || registry_host_is_loopback(host))) {
		if (set_base(r, "http") < 0)
			goto out;
		rc = ping(r, h, &resp, 3);
	}
	if (rc < 0) {
		if (http_transport_tls_error(&resp))
			stw_error("TLS with %s failed: %s (trust its CA with --cert-dir, or --tls-verify=false)", host,
				  resp.error);
		else
			stw_error("cannot reach registry %s: %s", host, resp.error);
		goto out;
	}
	if (resp.status == 401) {
		if (learn_challenge(r, &resp) < 0)
			goto out;
	} else if (resp.status != 200) {
		stw_error("%s does not look like a registry: GET /v2/ answered HTTP %ld", host, resp.status);
		goto out;
	}
	*out = r;
	r = NULL;
	ret = 0;
out:
	if (r)
		registry_handle_give(r, h);
	else if (*out)
		registry_handle_give(*out, h);
	http_response_release(&resp);
	registry_close(r);
	return ret;
}

void registry_close(struct registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->handle_count; i++)
		http_handle_free(r->handles[i]);
	free(r->handles);
	for (size_t i = 0; i < r->token_count; i++)
		token_release(&r->tokens[i]);
	free(r->tokens);
	registry_credentials_release(&r->creds);
	free(r->host);
	free(r->base);
	free(r->realm);
	free(r->service);
	free(r->ca_pem);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
