/*
 * docker_daemon_load: a writer thread runs docker_archive_write into one
 * end of a socket pair; libcurl reads the other end as the chunked body of
 * POST /images/load. Either side failing stops the other: the transfer
 * closes its end (the writer then fails with EPIPE), and a writer that
 * fails makes the body read abort the transfer, so the daemon never sees
 * a well-formed end of an archive that is not the image. Whatever the
 * timing, the archive's own failure (content changed) is the message; a
 * failed write into the pair only echoes the transfer's.
 *
 * libcurl never blocks waiting for the archive: the body read pauses the
 * upload when nothing is ready and the transfer loop polls the archive
 * beside the daemon's socket. So a daemon that answers early ("no space
 * left") is heard, instead of the upload running into its closed socket.
 */
#include "docker_daemon.h"
#include "archive_out.h"
#include "buf.h"
#include "curl_api.h"
#include "error.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_DOCKER_HOST "unix:///var/run/docker.sock"
/* the host part is ignored on a unix socket; quiet=1: no progress bars */
#define LOAD_URL "http://localhost/images/load?quiet=1"
/* with quiet=1 the daemon says a line per loaded tag */
#define MAX_RESPONSE (1024 * 1024)
#define UPLOAD_BUFFER (256 * 1024)
/* the loop wakes at least this often; curl's own timers may wake it sooner */
#define POLL_MS 1000

/* Shared by the writer thread and the transfer. img, repo_tag, stats and
 * write_fd are set before the thread starts; from then on the thread owns
 * write_fd and the writer_* fields, which the transfer reads only after
 * joining it; the rest is the transfer's. */
struct load {
	const struct stw_image *img;
	const char *repo_tag;
	struct stw_copy_stats *stats;
	int write_fd;
	int writer_ret;
	int writer_pipe_failed; /* the failure was a write into the pair */
	char writer_error[1024];

	int read_fd; /* non-blocking */
	pthread_t writer;
	int writer_running; /* started and not yet joined */
	int upload_paused;  /* the body read found nothing ready */
	int read_errno;
	int response_too_big, response_no_memory;
	struct buf response;
};

/* Sits in front of the pair and notes when writing into it fails. */
struct pipe_guard {
	struct sink base;
	int failed;
};

static int guard_write(struct sink *s, const void *data, size_t len)
{
	if (sink_write(s->next, data, len) < 0) {
		((struct pipe_guard *)s)->failed = 1;
		return -1;
	}
	return 0;
}

static int guard_finish(struct sink *s)
{
	if (sink_finish(s->next) < 0) {
		((struct pipe_guard *)s)->failed = 1;
		return -1;
	}
	return 0;
}

static void *write_archive(void *arg)
{
	struct load *ld = arg;
	struct fd_sink out;
	struct pipe_guard guard = { .base = { guard_write, guard_finish, &out.base } };
	sigset_t pipe_signal;

	/* SIGPIPE is sent to the thread that wrote: blocked here, a closed
	 * read end is an EPIPE error and not the end of the process */
	sigemptyset(&pipe_signal);
	sigaddset(&pipe_signal, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_signal, NULL);

	ld->writer_ret = fd_sink_init(&out, ld->write_fd, "the image stream to the Docker daemon");
	if (ld->writer_ret == 0)
		ld->writer_ret = docker_archive_write(ld->img, ld->repo_tag, &guard.base, ld->stats);
	fd_sink_release(&out);
	ld->writer_pipe_failed = guard.failed;
	if (ld->writer_ret < 0)
		snprintf(ld->writer_error, sizeof(ld->writer_error), "%s", stw_error_last());
	close(ld->write_fd); /* the transfer reads the end of the archive */
	return NULL;
}

static void join_writer(struct load *ld)
{
	if (ld->writer_running) {
		pthread_join(ld->writer, NULL);
		ld->writer_running = 0;
	}
}

/* The transfer is over: a writer still producing fails with EPIPE and ends. */
static void stop_writer(struct load *ld)
{
	if (ld->read_fd >= 0) {
		close(ld->read_fd);
		ld->read_fd = -1;
	}
	join_writer(ld);
}

static size_t read_archive(char *dst, size_t size, size_t count, void *arg)
{
	struct load *ld = arg;
	ssize_t n;

	do
		n = read(ld->read_fd, dst, size * count);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		ld->upload_paused = 1;
		return CURL_READFUNC_PAUSE;
	}
	if (n < 0) {
		ld->read_errno = errno;
		return CURL_READFUNC_ABORT;
	}
	if (n == 0) {
		/* the writer closed its end as its last act: joining is prompt */
		join_writer(ld);
		if (ld->writer_ret < 0)
			return CURL_READFUNC_ABORT; /* no final chunk: the daemon drops the body */
	}
	return (size_t)n;
}

static size_t keep_response(char *data, size_t size, size_t count, void *arg)
{
	struct load *ld = arg;
	size_t len = size * count;

	if (len > MAX_RESPONSE - ld->response.len) {
		ld->response_too_big = 1;
		return 0; /* aborts the transfer */
	}
	if (buf_add(&ld->response, data, len) < 0) {
		ld->response_no_memory = 1;
		return 0;
	}
	return len;
}

/* Runs the exchange, waking libcurl's paused upload when the archive has
 * more to give. Returns the transfer's CURLcode; a failure of the loop
 * itself is described in curl_error. */
static CURLcode run_transfer(CURL *h, struct load *ld, char *curl_error)
{
	CURLM *multi = curl_multi_init();
	CURLMcode mc = CURLM_OUT_OF_MEMORY;
	CURLcode rc = CURLE_FAILED_INIT;
	CURLMsg *msg;
	int running = 1, left;

	if (!multi || (mc = curl_multi_add_handle(multi, h)) != CURLM_OK)
		goto out;
	for (;;) {
		struct curl_waitfd archive = { .fd = ld->read_fd, .events = CURL_WAIT_POLLIN };

		if ((mc = curl_multi_perform(multi, &running)) != CURLM_OK || !running)
			break;
		/* the read callback pauses the upload inside the perform: only
		 * now is it known whether the archive is the thing to wait on */
		if ((mc = curl_multi_wait(multi, &archive, ld->upload_paused ? 1 : 0, POLL_MS, NULL)) != CURLM_OK)
			break;
		/* any wake-up may be the writer's end of file: reading again is cheap */
		if (ld->upload_paused) {
			ld->upload_paused = 0;
			curl_easy_pause(h, CURLPAUSE_CONT);
		}
	}
	if (mc == CURLM_OK && (msg = curl_multi_info_read(multi, &left)) && msg->msg == CURLMSG_DONE)
		rc = msg->data.result;
	curl_multi_remove_handle(multi, h);
out:
	if (mc != CURLM_OK)
		snprintf(curl_error, CURL_ERROR_SIZE, "%s", curl_multi_strerror(mc));
	curl_multi_cleanup(multi);
	return rc;
}

/* The daemon's words on one line: runs of spaces and control characters
 * (its messages hold newlines) become one space. */
static void one_line(char *out, size_t len, const char *text, size_t text_len)
{
	size_t n = 0;

	for (size_t i = 0; i < text_len && n + 1 < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (isspace(c) || iscntrl(c)) {
			if (n && out[n - 1] != ' ')
				out[n++] = ' ';
		} else {
			out[n++] = (char)c;
		}
	}
	while (n && out[n - 1] == ' ')
		n--;
	out[n] = 0;
}

static const char *message_of(json_t *msg, int status_failed)
{
	const char *text = json_string_value(json_object_get(msg, "error"));

	if (!text)
		text = json_string_value(json_object_get(json_object_get(msg, "errorDetail"), "message"));
	if (!text && status_failed)
		text = json_string_value(json_object_get(msg, "message"));
	return text && *text ? text : NULL;
}

/* The first error in the daemon's reply: a stream of JSON messages
 * ({"stream":...}, {"error":...,"errorDetail":{"message":...}}) or, with
 * an error status, {"message":...}. Returns 1 and fills out when there is
 * one; an error status with no readable message gives the raw reply. */
static int daemon_error(char *out, size_t len, const struct buf *reply, int status_failed)
{
	size_t pos = 0;

	out[0] = 0;
	while (pos < reply->len) {
		json_error_t err;
		json_t *msg;
		const char *text;

		if (isspace((unsigned char)reply->data[pos])) {
			pos++;
			continue;
		}
		msg = json_loadb(reply->data + pos, reply->len - pos, JSON_DISABLE_EOF_CHECK, &err);
		if (!msg)
			break;
		pos += err.position ? (size_t)err.position : reply->len - pos;
		text = message_of(msg, status_failed);
		if (text)
			one_line(out, len, text, strlen(text));
		json_decref(msg);
		if (out[0])
			return 1;
	}
	if (!status_failed)
		return 0;
	one_line(out, len, reply->data, reply->len);
	if (!out[0])
		snprintf(out, len, "no message");
	return 1;
}

/* One message for the outcome; the meaningful failure wins. A writer that
 * failed on its own (content changed since the build) explains whatever
 * the transfer then saw; a writer that could not write into the pair
 * (EPIPE: the transfer had ended) explains nothing. */
static int load_outcome(struct load *ld, const char *host, CURLcode rc, const char *curl_error, long status,
			long os_errno)
{
	char daemon_says[512];

	if (ld->writer_ret < 0 && !ld->writer_pipe_failed)
		return stw_error("%s", ld->writer_error);
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST)
		return stw_error("cannot connect to the Docker daemon at %s: %s", host,
				 os_errno ? strerror((int)os_errno) : curl_error);
	if (ld->response_too_big)
		return stw_error("the Docker daemon at %s replied with more than %d bytes", host, MAX_RESPONSE);
	if (ld->response_no_memory)
		return stw_error("out of memory");
	if (ld->read_errno)
		return stw_error("cannot read the image stream: %s", strerror(ld->read_errno));
	if (rc != CURLE_OK)
		return stw_error("lost the connection to the Docker daemon at %s: %s", host, curl_error);
	if (status < 200 || status > 299) {
		daemon_error(daemon_says, sizeof(daemon_says), &ld->response, 1);
		return stw_error("the Docker daemon at %s refused the image (HTTP %ld): %s", host, status,
				 daemon_says);
	}
	if (daemon_error(daemon_says, sizeof(daemon_says), &ld->response, 0))
		return stw_error("the Docker daemon at %s could not load the image: %s", host, daemon_says);
	if (ld->writer_ret < 0)
		return stw_error("the Docker daemon at %s answered before the whole image was sent", host);
	return 0;
}

static int add_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *grown = curl_slist_append(*list, line);
	if (!grown)
		return stw_error("out of memory");
	*list = grown;
	return 0;
}

int docker_daemon_load(const struct stw_image *img, const char *docker_host, const char *repo_tag,
		       struct stw_copy_stats *stats)
{
	struct load ld;
	struct curl_slist *headers = NULL;
	char curl_error[CURL_ERROR_SIZE];
	const char *socket_path;
	int fds[2], unowned_write_fd = -1, err, ret = -1;
	long status = 0, os_errno = 0;
	CURL *h = NULL;
	CURLcode rc;

	if (!docker_host)
		docker_host = DEFAULT_DOCKER_HOST;
	if (strncmp(docker_host, "unix://", 7) != 0)
		return stw_error("cannot use the Docker daemon at '%s': only unix sockets are supported "
				 "(unix:///path)", docker_host);
	socket_path = docker_host + 7;
	if (!*socket_path || strlen(socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return stw_error("cannot use the Docker daemon at '%s': %s", docker_host,
				 *socket_path ? "the socket path is too long" : "no socket path");
	if (stw_curl_init() < 0)
		return -1;

	memset(&ld, 0, sizeof(ld));
	ld.img = img;
	ld.repo_tag = repo_tag;
	ld.stats = stats;
	ld.read_fd = ld.write_fd = -1;
	buf_init(&ld.response);
	curl_error[0] = 0;

	if (!(h = curl_easy_init())) {
		stw_error("cannot initialise libcurl");
		goto out;
	}
	if (add_header(&headers, "Content-Type: application/x-tar") < 0 ||
	    add_header(&headers, "Transfer-Encoding: chunked") < 0 ||
	    add_header(&headers, "Expect:") < 0) /* no 100-continue round trip */
		goto out;
	/* a socket pair, not a pipe: its end of file polls as readable */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
		stw_error_errno("cannot create a socket pair");
		goto out;
	}
	ld.read_fd = fds[0];
	ld.write_fd = unowned_write_fd = fds[1];
	if (fcntl(ld.read_fd, F_SETFL, fcntl(ld.read_fd, F_GETFL) | O_NONBLOCK) < 0) {
		stw_error_errno("cannot make the image stream non-blocking");
		goto out;
	}
	if ((err = pthread_create(&ld.writer, NULL, write_archive, &ld)) != 0) {
		stw_error("cannot start the image archive writer: %s", strerror(err));
		goto out;
	}
	ld.writer_running = 1;
	unowned_write_fd = -1; /* the writer closes it */

	curl_easy_setopt(h, CURLOPT_URL, LOAD_URL);
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, socket_path);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_error);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "stowage");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_archive);
	curl_easy_setopt(h, CURLOPT_READDATA, &ld);
	curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, (long)UPLOAD_BUFFER);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_response);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &ld);
	/* no timeout: a daemon may take minutes to unpack a large image */
	rc = run_transfer(h, &ld, curl_error);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
	if (rc != CURLE_OK && !curl_error[0])
		snprintf(curl_error, sizeof(curl_error), "%s", curl_easy_strerror(rc));
	stop_writer(&ld);
	ret = load_outcome(&ld, docker_host, rc, curl_error, status, os_errno);
out:
	stop_writer(&ld);
	if (unowned_write_fd >= 0)
		close(unowned_write_fd);
	curl_easy_cleanup(h);
	curl_slist_free_all(headers);
	buf_release(&ld.response);
	return ret;
}
