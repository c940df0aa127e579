/*
 * The platform layer: files, folders, environment and streams with UTF-8 names on every platform.
 * bg_os_posix.c and bg_os_win.c implement it (CMake picks one); they are the only files outside
 * service/win/ that know which system they run on, so portable code holds no #if on the platform.
 */
#ifndef BG_OS_H
#define BG_OS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The separator of path components: '\\' on Windows, '/' elsewhere. */
extern const char bg_os_path_sep;

/* fopen / rename / remove for UTF-8 paths (the Windows C runtime's take the ANSI code page). They
 * set errno as their C library counterparts do. */
FILE *bg_os_file_open(const char *path, const char *mode);
int bg_os_file_rename(const char *from, const char *to);
int bg_os_file_remove(const char *path);
/* Creates path as an empty file readable and writable by its owner only (0600) when it is missing;
 * nothing when it exists or on Windows, where the data folder's ACL does that job (bitsguard setup). */
void bg_os_file_create_private(const char *path);
/* What a path names, without following a final link: absent, a regular file, a link (a symbolic link;
 * on Windows any reparse point: symbolic link, junction, mount point), anything else (a folder, FIFO or
 * device), or not knowable (BG_OS_PATH_ERROR, errno set). */
enum { BG_OS_PATH_ABSENT, BG_OS_PATH_REGULAR, BG_OS_PATH_LINK, BG_OS_PATH_OTHER, BG_OS_PATH_ERROR };
int bg_os_path_kind(const char *path);
/* 1 when fp is a regular file (the only kind of input that can be read twice), else 0. */
int bg_os_file_is_regular(FILE *fp);
/* The size in bytes of the open file fp, or -1 (not a regular file, or fstat failed). */
int64_t bg_os_file_size(FILE *fp);
/* Moves fp to the 64-bit byte offset from its start (msvcrt's fseek takes a 32-bit long); 0, or -1. */
int bg_os_file_seek(FILE *fp, int64_t offset);
/* Creates the folder path when missing (0700 on POSIX: private to its owner); 0, or -1 with errno. */
int bg_os_folder_make(const char *path);

/* The environment variable name as UTF-8 heap text (free with free); NULL when unset or no memory. */
char *bg_os_env_get(const char *name);

/* The folder under which bitsguard keeps its data folder, as UTF-8 heap text (free with free): on Windows
 * %ProgramData% (machine-wide, where the service's database lives); elsewhere $XDG_DATA_HOME when it is
 * absolute (the XDG specification says to ignore a relative one), else $HOME/.local/share. NULL when
 * the variables are unset or empty, or no memory. */
char *bg_os_data_home(void);

/* The name of the user running this process, written into buf (n bytes), for audit rows (`ack`): on
 * Windows DOMAIN\user of the process token; elsewhere the login name of the effective user id, or
 * "uid N" when it has none. "" when it cannot be told (then the audit row says NULL). */
void bg_os_user_name(char *buf, size_t n);

/* Puts fp in binary mode on Windows (no CR LF translation, no stop at a 0x1A byte); nothing elsewhere.
 * An output stream must be flushed first. */
void bg_os_stream_binary(FILE *fp);

/* The program's arguments as UTF-8: on Windows taken from the wide command line, because the C runtime's
 * argv is in the ANSI code page, which loses non-ASCII paths; elsewhere *argv as is. Replaces *argc and
 * *argv when it succeeds; the new array lives until the process exits. */
void bg_os_argv_utf8(int *argc, char ***argv);

/* This computer's name, as the Event Log writes it in an event's Computer field (Windows: the DNS fully
 * qualified name; elsewhere the host name), as a heap UTF-8 string; NULL when it cannot be had. */
char *bg_os_computer_name(void);

/* A thread running fn(arg) (pthreads on POSIX, CreateThread on Windows): the service reads each
 * configured channel on a thread of its own. bg_os_thread_start returns NULL when no thread could be
 * created; bg_os_thread_join waits until fn has returned and frees the handle. */
typedef struct bg_os_thread bg_os_thread;
bg_os_thread *bg_os_thread_start(void (*fn)(void *arg), void *arg);
void bg_os_thread_join(bg_os_thread *t);

#endif
