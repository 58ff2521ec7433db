/* Shared pieces of the command-line front end. */
#ifndef STW_CLI_H
#define STW_CLI_H

#include <stddef.h>
#include <stdint.h>

#define EXIT_USAGE 2

/* Prints "stowage: <message>" on stderr; returns 1 (the failure exit). */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the library's last error; returns 1. */
int cli_fail_lib(void);
/* Prints a usage problem and a hint to --help; returns EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A growable array of borrowed or owned strings. */
struct strlist {
	char **items;
	size_t count, cap;
	int owns;
};

int strlist_push(struct strlist *l, const char *s);    /* borrowed */
int strlist_push_owned(struct strlist *l, char *s);     /* takes s */
void strlist_release(struct strlist *l);

/* Writes data to path (or stdout for "-" / NULL) atomically. */
int cli_write_output(const char *path, const char *data, size_t len);
/* On SIGINT/SIGTERM/SIGHUP: remove the temporaries of writes in progress, exit 128 + signal. */
void cli_cleanup_on_signals(void);
/* jansson's freed memory zeroed (it holds copies of secrets it parsed). */
void cli_zero_json_memory(void);

/* $XDG_CACHE_HOME/stowage, else ~/.cache/stowage; NULL where there is no
 * home (a Nix builder's /homeless-shelter): no cache then. */
const char *cli_default_cache_dir(char *buf, size_t len);
/* The cap of the blob cache: $STOWAGE_BLOB_CACHE_MAX (bytes, or with a
 * K, M or G suffix; 0 turns the cache off), else 4 GiB. Returns 0, or
 * EXIT_USAGE after saying what is wrong with the variable. */
int cli_blob_cache_max(uint64_t *out);

/* Human-readable byte counts: "1.5 MiB". */
void cli_format_bytes(char *out, size_t len, unsigned long long bytes);

int cmd_build(int argc, char **argv);
int cmd_layer(int argc, char **argv);
int cmd_copy(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_release(int argc, char **argv);

#endif
