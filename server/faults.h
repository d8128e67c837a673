/* SPDX-License-Identifier: GPL-2.0-or-later */
/* faults.h - fault injection for the reliability tests.
 *
 * Controlled over HTTP from loopback only:
 *   POST   /_control/faults   add a fault (JSON object, see server/README.md)
 *   DELETE /_control/faults   clear all faults
 * A fault matches requests whose path contains "path" (and whose method is
 * "method", if given) and applies to the next "count" of them (default:
 * every one until cleared). Actions: "status" (answer "status" with a
 * detail), "garbage" (200 with a body that is not JSON), "truncate" (the
 * real answer cut in half), "drop" (close the connection without an
 * answer), "delay" (answer after "delay_ms"), "tamper" (GET messages:
 * "mode" = data | signature | sender | reorder | drop | insert | omit (the
 * message "hash" left out of lists, still served by hash); a GET by hash
 * or of a data store entry: data | signature | sender; applied to the real
 * answer, never to what is stored) and "close_websockets" (at once, no
 * matching). */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef enum {
  RDT_FAULT_STATUS,
  RDT_FAULT_GARBAGE,
  RDT_FAULT_TRUNCATE,
  RDT_FAULT_DROP,
  RDT_FAULT_DELAY,
  RDT_FAULT_TAMPER
} RdtFaultAction;

typedef struct {
  RdtFaultAction action;
  guint status;
  guint delay_ms;
  gchar *mode;       /* tamper mode */
  gchar *hash;       /* for mode "omit": the message to leave out */
} RdtFault;

typedef void (*RdtCloseSocketsFunc) (void);

void rdt_srv_faults_init (RdtCloseSocketsFunc close_sockets);

/* TRUE if `path` is a control path (the request has been answered). */
gboolean rdt_srv_faults_control (SoupServerMessage *msg, const gchar *path);

/* The fault to apply to this request (a copy: free it with
 * rdt_srv_fault_free), or NULL. Counts the use. */
/* caller: the id in the request's token, or NULL (none, or invalid). */
RdtFault *rdt_srv_faults_match (const gchar *method, const gchar *path,
                                const gchar *caller);
void      rdt_srv_fault_free (RdtFault *fault);

/* Answer instead of the handler (status, garbage, drop). */
void rdt_srv_fault_answer (RdtFault *fault, SoupServerMessage *msg);
/* Rewrite the handler's answer (truncate, tamper). */
void rdt_srv_fault_rewrite (RdtFault *fault, SoupServerMessage *msg);

G_END_DECLS
