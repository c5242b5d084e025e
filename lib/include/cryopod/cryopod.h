/* SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: 2026 Cryopod developers
 *
 * libcryopod: checkpoint and restart of processes, for programs, through
 * cryopod-helper on the system bus (the same polkit rules as the Cryopod app
 * and cryopodctl; no root needed for one's own processes). See docs/api.md.
 *
 * Every function returns -1 and sets errno on failure, and writes one line
 * saying why to `logfd` (when it is >= 0; the functions without a logfd
 * write nothing); cryopod_last_error() returns that line too. Progress lines
 * go to `logfd` as well.
 */
#ifndef CRYOPOD_CRYOPOD_H
#define CRYOPOD_CRYOPOD_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CRYOPOD_API_VERSION 1

/* cryopod_checkpoint() flags */
/* Accepted for the original API's sake: the engine always checkpoints PID with
 * all its descendants, and names (and refuses) what they share with processes
 * outside. */
#define CRYOPOD_SUBTREE 0x1u
/* End the checkpointed tree once the whole image has reached fd. */
#define CRYOPOD_KILL 0x2u

/* cryopod_restart() flags */
/* Leave the restored tree stopped (SIGSTOP); kill -CONT resumes it. */
#define CRYOPOD_RESTART_FROZEN 0x1u
/* Restore beside a running original. Not supported: the engine restores
 * processes with their original pids; fails with ENOTSUP. */
#define CRYOPOD_RESTART_COPY 0x2u

/* Checkpoints the process tree rooted at `pid` (0: the calling process) into
 * `fd` (a regular file, pipe or socket open for writing; the image is written
 * at its position).
 * Returns the checkpoint id (> 0) in the process that made the checkpoint, and
 * 0 when the caller is the copy restored from that very checkpoint, returning
 * from the same call. The id is the helper's job number (as its log and
 * D-Bus job path show it): the milliseconds since the epoch when the job
 * started, made unique, so ids keep growing across restarts of the helper
 * (it exits after 60 s without work). cryopod_snapshot's ids are the
 * store's. pid 0: the calling thread waits inside the call while
 * the engine stops every thread of the process; the fds the library holds for
 * the call are restored as the read ends of hung-up pipes and closed by the
 * library in the copy; so is `fd` (the helper writes to it meanwhile), which
 * the copy should just close. An image written to a file can be moved or
 * copied: the copy does not need it where it was.
 * Errors: ENOENT / ECONNREFUSED no system bus or no helper, EPERM not
 * authorized (polkit, or a process the caller may not checkpoint), ESRCH no
 * such process, EBADF `fd` is not open for writing, EINVAL bad flags or fd
 * kind, ENOTSUP what Cryopod does not checkpoint (pid 1, ..., and what the
 * engine refuses: the message names every reason), EIO anything else. */
long cryopod_checkpoint(pid_t pid, int fd, unsigned flags, int logfd);

/* Restores the image read from `fd` (open for reading, from its position to
 * its end). Returns the pid of the restored root process (a child of the
 * helper, not of the caller). Errors as above, and EEXIST when a pid the image
 * needs is in use, EINVAL when it is not a valid image, ENOTSUP for
 * CRYOPOD_RESTART_COPY. */
pid_t cryopod_restart(int fd, unsigned flags, int logfd);

/* Checkpoints `pid` (0: the calling process) into the user's snapshot store
 * (what the Cryopod app's timeline shows), with `label` (may be NULL), through
 * cryopodctl. Returns the snapshot id (> 0), 0 in the copy restored from that
 * snapshot (pid 0), -1 with errno. */
long cryopod_snapshot(pid_t pid, const char *label);

/* What the engine thinks of the tree rooted at `pid` (0: the caller): if
 * `report_json` is not NULL, it receives a JSON object (malloc'd, free() it):
 * {"root":..., "verdict":"ok|caveat|refused", "summary":..., "processes":[...]}
 * as the helper's Report. Returns 1 when the tree can be checkpointed (ok or
 * caveat), 0 when it cannot, -1 with errno on failure. */
int cryopod_checkpointable(pid_t pid, char **report_json);

/* The message of the calling thread's last failure of a cryopod_ function
 * (what went to logfd, if there was one), or "" before any. Valid until the
 * thread's next call. */
const char *cryopod_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* CRYOPOD_CRYOPOD_H */
