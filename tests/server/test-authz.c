/* SPDX-License-Identifier: GPL-2.0-or-later */
/* meson: test('authz', ...) links server/authz.c + rdt_model_dep
 *
 * test-authz.c - unit tests of the test server's state model and
 * authorization rules (server/authz.c; spec 6.2, 8.1-8.5, 4.3). */
#include <string.h>
#include <glib.h>
#include "authz.h"
#include "crypto.h"
#include "encoding.h"
#include "id.h"
#include "message.h"

#define SPACE "SIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c"
#define OWNER_U "UIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c"
#define MEMBER_U "UIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU"

typedef struct {
  RdtSigningKey *key;
  gchar *uid;
  gchar *tid;
} Who;

typedef struct {
  RdtSrvState *st;
  gchar *head;
  Who owner, member, a, b, t, t2;
} Fx;

static void
who_init (Who *w, guint8 fill)
{
  guint8 seed[32];
  memset (seed, fill, sizeof seed);
  w->key = rdt_signing_key_new_from_seed (seed);
  w->uid = rdt_signing_key_get_id (w->key, RDT_ID_USER);
  w->tid = rdt_signing_key_get_id (w->key, RDT_ID_TOOL);
}

static void
who_clear (Who *w)
{
  rdt_signing_key_free (w->key);
  g_free (w->uid);
  g_free (w->tid);
}

static void
fx_setup (Fx *f, gconstpointer data)
{
  (void) data;
  g_assert_true (rdt_crypto_init ());
  f->st = rdt_srv_state_new (SPACE);
  f->head = NULL;
  who_init (&f->owner, 1);
  who_init (&f->member, 2);
  who_init (&f->a, 3);
  who_init (&f->b, 4);
  who_init (&f->t, 5);
  who_init (&f->t2, 6);
}

static void
fx_teardown (Fx *f, gconstpointer data)
{
  (void) data;
  rdt_srv_state_free (f->st);
  g_free (f->head);
  who_clear (&f->owner);
  who_clear (&f->member);
  who_clear (&f->a);
  who_clear (&f->b);
  who_clear (&f->t);
  who_clear (&f->t2);
}

static gchar *
b64 (const gchar *s)
{
  return rdt_base64_encode ((const guint8 *) s, strlen (s));
}

/* Validate, then apply on success. data_raw is base64 already. Returns the
 * detail (g_free) or NULL on success. */
static gchar *
write_raw (Fx *f, const RdtSigningKey *key, const gchar *sender,
           const gchar *path, const gchar *data_raw)
{
  gchar *detail = NULL;
  if (!rdt_srv_state_validate_write (f->st, sender, path, data_raw, &detail))
    {
      g_assert_nonnull (detail);
      return detail;
    }
  g_assert_null (detail);
  {
    RdtMessage *m = rdt_message_new_signed (SPACE, "state", path, f->head,
                                            data_raw, sender, key);
    rdt_srv_state_apply (f->st, m);
    g_free (f->head);
    f->head = g_strdup (m->message_hash);
    rdt_message_unref (m);
  }
  return NULL;
}

static gchar *
write_json (Fx *f, const Who *w, gboolean as_tool, const gchar *path,
            const gchar *json)
{
  g_autofree gchar *d = json ? b64 (json) : g_strdup ("");
  return write_raw (f, w->key, as_tool ? w->tid : w->uid, path, d);
}

/* Apply without validation (as if replayed from a tampered database). */
static void
force (Fx *f, const Who *w, const gchar *sender, const gchar *path,
       const gchar *data_raw)
{
  RdtMessage *m = rdt_message_new_signed (SPACE, "state", path, f->head,
                                          data_raw, sender, w->key);
  rdt_srv_state_apply (f->st, m);
  g_free (f->head);
  f->head = g_strdup (m->message_hash);
  rdt_message_unref (m);
}

#define OK(expr) do { gchar *_d = (expr); if (_d) g_error ("unexpected refusal: %s", _d); } while (0)
#define REFUSED(expr, sub, status) do { g_autofree gchar *_d = (expr); \
    g_assert_nonnull (_d); g_assert_nonnull (strstr (_d, sub)); \
    g_assert_cmpuint (rdt_srv_status_for_detail (_d), ==, status); } while (0)

static gchar *
upath (const gchar *u, const gchar *rest)
{
  return g_strconcat ("auth/users/", u, rest, NULL);
}

static gchar *
tpath (const gchar *t, const gchar *rest)
{
  return g_strconcat ("auth/tools/", t, rest, NULL);
}

static void
add_user (Fx *f, const Who *w)
{
  g_autofree gchar *p = upath (w->uid, "");
  g_autofree gchar *j = g_strdup_printf ("{\"user_id\":\"%s\"}", w->uid);
  OK (write_json (f, &f->owner, FALSE, p, j));
}

static void
grant (Fx *f, const gchar *uid, const gchar *cap_id, const gchar *json)
{
  g_autofree gchar *p = g_strconcat ("auth/users/", uid, "/rights/", cap_id, NULL);
  OK (write_json (f, &f->owner, FALSE, p, json));
}

#define CHAT "{\"op\":\"write\",\"path\":\"topics/{any}/messages\"}"

static gboolean
can (Fx *f, const gchar *who, const gchar *op, const gchar *path)
{
  return rdt_srv_state_check_permission (f->st, who, op, path, NULL);
}

/* ---- tests ---- */

static void
test_appendix (Fx *f, gconstpointer d)
{
  const gchar *data = "eyJ1c2VyX2lkIjogIlVJRTVkdzZvZlJkZlZxTlVac05NZnN6TGpZcVJ0TzQzb2wzMkQxdVB5Yk9VIn0=";
  gchar *detail = NULL;
  RdtMessage *m;
  (void) d;

  g_assert_cmpstr (f->owner.uid, ==, OWNER_U);
  g_assert_cmpstr (f->member.uid, ==, MEMBER_U);
  g_assert_true (rdt_srv_state_is_owner (f->st, SPACE));
  g_assert_true (rdt_srv_state_is_owner (f->st, OWNER_U));
  g_assert_false (rdt_srv_state_is_owner (f->st, MEMBER_U));
  g_assert_true (rdt_srv_state_is_member (f->st, OWNER_U));
  g_assert_false (rdt_srv_state_is_member (f->st, MEMBER_U));
  g_assert_false (rdt_srv_state_is_member (f->st, "garbage"));

  g_assert_true (rdt_srv_state_validate_write (f->st, OWNER_U,
      "auth/users/" MEMBER_U, data, &detail));
  g_assert_null (detail);
  m = rdt_message_new_signed (SPACE, "state", "auth/users/" MEMBER_U, NULL,
                              data, OWNER_U, f->owner.key);
  g_assert_cmpstr (m->message_hash, ==, "MEoLCDUkndB61rUP0xaHHZ0gWTUiWbH9QAedJr8CYb-B");
  g_assert_cmpstr (m->signature, ==, "sEQD+DS2zdxBescWRXAPwOlLzhbc3sDb+J3VD+out6/v/0urQQycWB1VLanVXxX3lxKbJYKErqHnaDijV9y6CQ==");
  rdt_srv_state_apply (f->st, m);
  rdt_message_unref (m);
  g_assert_true (rdt_srv_state_is_member (f->st, MEMBER_U));
  g_assert_nonnull (rdt_srv_state_lookup (f->st, "auth/users/" MEMBER_U));
  g_assert_null (rdt_srv_state_lookup (f->st, "auth/users/nobody"));
  /* a member without capabilities cannot post */
  g_assert_false (can (f, MEMBER_U, "create", "topics/general/messages"));
  g_assert_true (can (f, OWNER_U, "create", "topics/general/messages"));
}

static void
test_self_signed (Fx *f, gconstpointer d)
{
  g_autofree gchar *p = upath (f->a.uid, "");
  (void) d;
  REFUSED (write_json (f, &f->a, FALSE, p, "{}"), "invalid chain of trust", 401);
  /* even forced into the state (tampered DB), a self-signed entry is no member */
  force (f, &f->a, f->a.uid, p, "e30=");
  g_assert_false (rdt_srv_state_is_member (f->st, f->a.uid));
  /* and a member created by that non-member is no member either */
  {
    g_autofree gchar *pb = upath (f->b.uid, "");
    force (f, &f->a, f->a.uid, pb, "e30=");
    g_assert_false (rdt_srv_state_is_member (f->st, f->b.uid));
    REFUSED (write_json (f, &f->a, FALSE, "profiles/x", "{}"),
             "Signer", 401);
  }
}

static void
test_blanked_member (Fx *f, gconstpointer d)
{
  g_autofree gchar *p = upath (f->member.uid, "");
  (void) d;
  add_user (f, &f->member);
  grant (f, f->member.uid, "chat", CHAT);
  OK (write_json (f, &f->owner, FALSE, p, NULL));
  g_assert_cmpstr (rdt_srv_state_lookup (f->st, p)->data, ==, "");
  g_assert_true (rdt_srv_state_is_member (f->st, f->member.uid));
  g_assert_true (can (f, f->member.uid, "create", "topics/general/messages"));
  /* blanking the capability revokes it */
  {
    g_autofree gchar *cp = upath (f->member.uid, "/rights/chat");
    OK (write_json (f, &f->owner, FALSE, cp, NULL));
    g_assert_false (can (f, f->member.uid, "create", "topics/general/messages"));
  }
}

static void
test_chat_capability (Fx *f, gconstpointer d)
{
  const gchar *u = f->member.uid, *ua = f->a.uid;
  (void) d;
  add_user (f, &f->member);
  add_user (f, &f->a);
  grant (f, u, "chat", CHAT);
  g_assert_true (can (f, u, "read", "topics/general/messages"));
  g_assert_true (can (f, u, "create", "topics/general/messages"));
  g_assert_true (can (f, u, "create", "/topics/general/messages/"));
  g_assert_false (can (f, u, "create", "topics/general/messages/x"));
  g_assert_false (can (f, u, "create", "topics/general"));
  g_assert_false (can (f, u, "create", "state/profiles/x"));
  g_assert_false (can (f, u, "bogus", "topics/general/messages"));

  /* the docs' broken forms */
  grant (f, ua, "r", "{\"op\":\"read\",\"path\":\"topics/{any}\"}");
  grant (f, ua, "c", "{\"op\":\"create\",\"path\":\"topics/{any}/messages/{any}\"}");
  g_assert_false (can (f, ua, "read", "topics/general/messages"));
  g_assert_false (can (f, ua, "create", "topics/general/messages"));
  /* read does not grant create */
  grant (f, ua, "r2", "{\"op\":\"read\",\"path\":\"topics/general/messages\"}");
  g_assert_true (can (f, ua, "read", "topics/general/messages"));
  g_assert_false (can (f, ua, "create", "topics/general/messages"));
  g_assert_false (can (f, ua, "read", "topics/other/messages"));
  /* a non-member holding forced capabilities gets nothing */
  {
    g_autofree gchar *cp = upath (f->b.uid, "/rights/chat");
    g_autofree gchar *data = b64 (CHAT);
    force (f, &f->owner, f->owner.uid, cp, data);
    g_assert_false (can (f, f->b.uid, "create", "topics/general/messages"));
  }
}

static void
test_roles (Fx *f, gconstpointer d)
{
  const gchar *u = f->member.uid, *ua = f->a.uid;
  g_autofree gchar *rg = upath (u, "/roles/member");
  g_autofree gchar *rga = upath (ua, "/roles/member");
  g_autofree gchar *j = g_strdup_printf ("{\"user_id\":\"%s\",\"role_id\":\"member\"}", u);
  g_autofree gchar *ja = g_strdup_printf ("{\"user_id\":\"%s\",\"role_id\":\"member\",\"expires_at\":1000}", ua);
  g_autofree gchar *jf = g_strdup_printf ("{\"user_id\":\"%s\",\"role_id\":\"member\",\"expires_at\":%" G_GINT64_FORMAT "}", ua,
                                          g_get_real_time () / 1000 + 3600000);
  g_autofree gchar *bad_user = g_strdup_printf ("{\"user_id\":\"%s\",\"role_id\":\"member\"}", ua);
  g_autofree gchar *bad_role = g_strdup_printf ("{\"user_id\":\"%s\",\"role_id\":\"admin\"}", u);
  (void) d;

  add_user (f, &f->member);
  add_user (f, &f->a);
  OK (write_json (f, &f->owner, FALSE, "auth/roles/member", "{\"role_id\":\"member\"}"));
  OK (write_json (f, &f->owner, FALSE, "auth/roles/member/rights/chat", CHAT));
  REFUSED (write_json (f, &f->owner, FALSE, rg, bad_user), "Role grant user_id mismatch", 400);
  REFUSED (write_json (f, &f->owner, FALSE, rg, bad_role), "Role grant role_id mismatch", 400);
  REFUSED (write_json (f, &f->owner, FALSE, rg, "[1]"), "Role grant", 401);
  OK (write_json (f, &f->owner, FALSE, rg, j));
  g_assert_true (can (f, u, "create", "topics/general/messages"));
  g_assert_true (can (f, u, "read", "topics/x1/messages"));
  /* expired grant skipped */
  OK (write_json (f, &f->owner, FALSE, rga, ja));
  g_assert_false (can (f, ua, "create", "topics/general/messages"));
  OK (write_json (f, &f->owner, FALSE, rga, jf));
  g_assert_true (can (f, ua, "create", "topics/general/messages"));
  /* tools cannot hold roles */
  {
    g_autofree gchar *tp = tpath (f->t.tid, "");
    g_autofree gchar *trg = upath (f->t.tid, "/roles/member");
    g_autofree gchar *tj = g_strdup_printf ("{\"user_id\":\"%s\",\"role_id\":\"member\"}", f->t.tid);
    OK (write_json (f, &f->owner, FALSE, tp, "{}"));
    OK (write_json (f, &f->owner, FALSE, trg, tj));
    g_assert_false (can (f, f->t.tid, "create", "topics/general/messages"));
  }
  /* revoking the role's capability revokes it for everyone */
  OK (write_json (f, &f->owner, FALSE, "auth/roles/member/rights/chat", NULL));
  g_assert_false (can (f, u, "create", "topics/general/messages"));
}

static void
test_wildcards (Fx *f, gconstpointer d)
{
  const gchar *u = f->member.uid;
  g_autofree gchar *own = g_strconcat ("state/profiles/", u, NULL);
  g_autofree gchar *other = g_strconcat ("state/inbox/", u, NULL);
  (void) d;
  add_user (f, &f->member);
  grant (f, u, "p", "{\"op\":\"write\",\"path\":\"state/profiles/{self}\"}");
  grant (f, u, "i", "{\"op\":\"create\",\"path\":\"state/inbox/{other}\"}");
  grant (f, u, "d", "{\"op\":\"read\",\"path\":\"data/{...}\"}");
  grant (f, u, "x", "{\"op\":\"read\",\"path\":\"state/meta/{any}/\"}");
  g_assert_true (can (f, u, "modify", own));
  g_assert_false (can (f, u, "modify", "state/profiles/" OWNER_U));
  g_assert_true (can (f, u, "create", "state/inbox/" OWNER_U));
  g_assert_false (can (f, u, "create", other));
  g_assert_true (can (f, u, "read", "data"));
  g_assert_true (can (f, u, "read", "data/a/b/c"));
  g_assert_false (can (f, u, "read", "database"));
  /* depth must match exactly: trailing '/' is not a prefix */
  g_assert_true (can (f, u, "read", "state/meta/a"));
  g_assert_false (can (f, u, "read", "state/meta/a/b"));
  g_assert_false (can (f, u, "read", "state/meta"));
  /* the write validation path goes through the same matching */
  {
    g_autofree gchar *p = g_strconcat ("profiles/", u, NULL);
    OK (write_json (f, &f->member, FALSE, p, "{\"name\":\"m\"}"));
    OK (write_json (f, &f->member, FALSE, p, "{\"name\":\"n\"}"));
    OK (write_json (f, &f->member, FALSE, p, NULL));
    REFUSED (write_json (f, &f->member, FALSE, "profiles/" OWNER_U, "{}"),
             "No create permission for state path: profiles/" OWNER_U, 403);
  }
}

static void
test_must_be_owner (Fx *f, gconstpointer d)
{
  const gchar *u = f->member.uid;
  (void) d;
  add_user (f, &f->member);
  grant (f, u, "n", "{\"op\":\"write\",\"path\":\"state/notes/{any}\",\"must_be_owner\":true}");
  grant (f, u, "t", "{\"op\":\"write\",\"path\":\"topics/{any}/messages\",\"must_be_owner\":true}");
  g_assert_true (rdt_srv_state_check_permission (f->st, u, "create", "state/notes/a", NULL));
  g_assert_true (rdt_srv_state_check_permission (f->st, u, "modify", "state/notes/a", u));
  g_assert_false (rdt_srv_state_check_permission (f->st, u, "modify", "state/notes/a", OWNER_U));
  g_assert_false (rdt_srv_state_check_permission (f->st, u, "delete", "state/notes/a", NULL));
  g_assert_false (rdt_srv_state_check_permission (f->st, u, "read", "state/notes/a", OWNER_U));
  g_assert_false (rdt_srv_state_check_permission (f->st, u, "create", "topics/general/messages", u));
  g_assert_false (rdt_srv_state_check_permission (f->st, u, "read", "topics/general/messages", u));
  /* through state writes: own entry modifiable, the owner's not */
  OK (write_json (f, &f->member, FALSE, "notes/mine", "{}"));
  OK (write_json (f, &f->member, FALSE, "notes/mine", "{\"v\":2}"));
  OK (write_json (f, &f->owner, FALSE, "notes/theirs", "{}"));
  REFUSED (write_json (f, &f->member, FALSE, "notes/theirs", "{}"),
           "No modify permission for state path: notes/theirs", 403);
  REFUSED (write_json (f, &f->member, FALSE, "notes/theirs", NULL),
           "No delete permission for state path: notes/theirs", 403);
}

static void
test_escalation (Fx *f, gconstpointer d)
{
  const gchar *ua = f->a.uid, *ub = f->b.uid;
  g_autofree gchar *cp = upath (ub, "/rights/c");
  (void) d;
  add_user (f, &f->a);
  add_user (f, &f->b);
  grant (f, ua, "chat1", "{\"op\":\"write\",\"path\":\"topics/general/messages\"}");
  /* lacking create on state/auth/users/{any}/rights/ */
  REFUSED (write_json (f, &f->a, FALSE, cp, "{\"op\":\"read\",\"path\":\"topics/general/messages\"}"),
           "Invalid capability grant or privilege escalation", 401);
  grant (f, ua, "g", "{\"op\":\"create\",\"path\":\"state/auth/users/{...}\"}");
  /* superset missing */
  REFUSED (write_json (f, &f->a, FALSE, cp, CHAT),
           "Invalid capability grant or privilege escalation", 401);
  REFUSED (write_json (f, &f->a, FALSE, cp, "{\"op\":\"write\",\"path\":\"state/{...}\"}"),
           "Invalid capability grant or privilege escalation", 401);
  /* subset is fine */
  OK (write_json (f, &f->a, FALSE, cp, "{\"op\":\"read\",\"path\":\"topics/general/messages\"}"));
  g_assert_true (can (f, ub, "read", "topics/general/messages"));
  g_assert_false (can (f, ub, "create", "topics/general/messages"));
  /* invalid patterns refused even from the owner */
  REFUSED (write_json (f, &f->owner, FALSE, cp, "{\"op\":\"read\",\"path\":\"profiles/x\"}"),
           "Invalid capability grant", 401);
  REFUSED (write_json (f, &f->owner, FALSE, cp, "{\"op\":\"read\",\"path\":\"topics/a b\"}"),
           "Invalid capability grant", 401);
  REFUSED (write_json (f, &f->owner, FALSE, cp, "{\"op\":\"fly\",\"path\":\"topics/x\"}"),
           "Invalid capability grant", 401);
  OK (write_json (f, &f->owner, FALSE, cp, "{\"op\":\"read\",\"path\":\"{...}\"}"));
  g_assert_true (can (f, ub, "read", "state/anything/at/all"));
  /* role grant by a non-owner without superset */
  OK (write_json (f, &f->owner, FALSE, "auth/roles/admin/rights/all", "{\"op\":\"write\",\"path\":\"{...}\"}"));
  {
    g_autofree gchar *rg = upath (ub, "/roles/admin");
    g_autofree gchar *j = g_strdup_printf ("{\"user_id\":\"%s\",\"role_id\":\"admin\"}", ub);
    grant (f, ua, "rg", "{\"op\":\"create\",\"path\":\"state/auth/users/{any}/roles/{...}\"}");
    REFUSED (write_json (f, &f->a, FALSE, rg, j),
             "Invalid role grant or privilege escalation", 401);
  }
}

static void
test_invitation (Fx *f, gconstpointer d)
{
  const gchar *t = f->t.tid, *t2 = f->t2.tid, *u = f->member.uid;
  g_autofree gchar *tp = tpath (t, "");
  g_autofree gchar *tp2 = tpath (t2, "");
  g_autofree gchar *up = upath (u, "");
  g_autofree gchar *uj = g_strdup_printf ("{\"user_id\":\"%s\"}", u);
  g_autofree gchar *chat = upath (u, "/rights/chat");
  g_autofree gchar *rg = upath (u, "/roles/user");
  g_autofree gchar *rj = g_strdup_printf ("{\"user_id\":\"%s\",\"role_id\":\"user\"}", u);
  (void) d;

  /* working scheme (spec 8.4) */
  g_assert_true (rdt_srv_state_check_tool (f->st, t, 0, NULL) == FALSE);
  OK (write_json (f, &f->owner, FALSE, tp, "{\"tool_id\":\"x\",\"use_limit\":3}"));
  {
    g_autofree gchar *r1 = tpath (t, "/rights/can_create_user");
    g_autofree gchar *r2 = tpath (t, "/rights/can_grant");
    OK (write_json (f, &f->owner, FALSE, r1, "{\"op\":\"create\",\"path\":\"state/auth/users/{any}\"}"));
    OK (write_json (f, &f->owner, FALSE, r2, "{\"op\":\"create\",\"path\":\"state/auth/users/{any}/rights/{any}\"}"));
  }
  g_assert_true (rdt_srv_state_is_member (f->st, t));
  g_assert_true (rdt_srv_state_check_tool (f->st, t, 0, NULL));
  OK (write_json (f, &f->t, TRUE, up, uj));
  OK (write_json (f, &f->t, TRUE, chat, CHAT));
  g_assert_true (rdt_srv_state_is_member (f->st, u));
  g_assert_true (can (f, u, "create", "topics/general/messages"));
  /* the tool may not modify what exists, nor post to topics */
  REFUSED (write_json (f, &f->t, TRUE, up, uj), "No modify permission for state path", 403);
  g_assert_false (can (f, t, "create", "topics/general/messages"));
  /* use_limit */
  {
    gchar *detail = NULL;
    g_assert_true (rdt_srv_state_check_tool (f->st, t, 2, &detail));
    g_assert_null (detail);
    g_assert_false (rdt_srv_state_check_tool (f->st, t, 3, &detail));
    g_assert_nonnull (strstr (detail, "has exceeded use limit (3)"));
    g_assert_cmpuint (rdt_srv_status_for_detail (detail), ==, 401);
    g_free (detail);
  }

  /* the SDK's scheme: role grant by a tool fails once role has caps */
  OK (write_json (f, &f->owner, FALSE, tp2, "{\"tool_id\":\"y\"}"));
  {
    g_autofree gchar *r1 = tpath (t2, "/rights/can_create_user");
    g_autofree gchar *r2 = tpath (t2, "/rights/can_grant_user_role");
    OK (write_json (f, &f->owner, FALSE, r1, "{\"op\":\"create\",\"path\":\"state/auth/users/{any}\"}"));
    OK (write_json (f, &f->owner, FALSE, r2, "{\"op\":\"create\",\"path\":\"state/auth/users/{any}/roles/user\"}"));
  }
  OK (write_json (f, &f->owner, FALSE, "auth/roles/user/rights/chat", CHAT));
  {
    g_autofree gchar *u2 = upath (f->b.uid, "");
    g_autofree gchar *u2j = g_strdup_printf ("{\"user_id\":\"%s\"}", f->b.uid);
    g_autofree gchar *rg2 = upath (f->b.uid, "/roles/user");
    g_autofree gchar *rj2 = g_strdup_printf ("{\"user_id\":\"%s\",\"role_id\":\"user\"}", f->b.uid);
    OK (write_json (f, &f->t2, TRUE, u2, u2j));
    REFUSED (write_json (f, &f->t2, TRUE, rg2, rj2),
             "Invalid role grant or privilege escalation", 401);
    /* works while the role has no capabilities */
    OK (write_json (f, &f->owner, FALSE, "auth/roles/user/rights/chat", NULL));
    OK (write_json (f, &f->t2, TRUE, rg, rj));
    /* capabilities added later apply */
    OK (write_json (f, &f->owner, FALSE, "auth/roles/user/rights/chat", CHAT));
    g_assert_true (can (f, u, "create", "topics/general/messages"));
  }
  /* blanked tool: still a member, but every write refused */
  OK (write_json (f, &f->owner, FALSE, tp, NULL));
  g_assert_true (rdt_srv_state_is_member (f->st, t));
  {
    gchar *detail = NULL;
    g_assert_false (rdt_srv_state_check_tool (f->st, t, 0, &detail));
    g_assert_nonnull (strstr (detail, "Invalid tool definition for T"));
    g_free (detail);
    g_assert_false (rdt_srv_state_check_tool (f->st, "nonsense", 0, &detail));
    g_free (detail);
  }
}

static void
test_garbage (Fx *f, gconstpointer d)
{
  const gchar *u = f->member.uid;
  g_autofree gchar *cp = upath (u, "/rights/c");
  static const gchar *bad[] = { "!!!notbase64", "bm90IGpzb24=" /* not json */,
    "WzEsMl0=" /* [1,2] */, "e30=" /* {} */, "eyJvcCI6MX0=" /* {"op":1} */,
    "W1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1s=" /* deep */ };
  guint i;
  (void) d;
  add_user (f, &f->member);
  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree gchar *rg = upath (u, "/roles/r");
      REFUSED (write_raw (f, f->owner.key, f->owner.uid, cp, bad[i]),
               "Invalid capability grant", 401);
      /* objects without the ids are a mismatch (400), the rest 401 */
      REFUSED (write_raw (f, f->owner.key, f->owner.uid, rg, bad[i]), "Role grant",
               (i == 3 || i == 4) ? 400 : 401);
      /* forced in: skipped, no crash */
      force (f, &f->owner, f->owner.uid, cp, bad[i]);
      force (f, &f->owner, f->owner.uid, rg, bad[i]);
      g_assert_false (can (f, u, "read", "topics/general/messages"));
      /* tool with garbage definition */
      {
        g_autofree gchar *tp = tpath (f->t.tid, "");
        gchar *detail = NULL;
        force (f, &f->owner, f->owner.uid, tp, bad[i]);
        /* any JSON object is a valid definition; the rest is not */
        if (i == 3 || i == 4)
          g_assert_true (rdt_srv_state_check_tool (f->st, f->t.tid, 0, &detail));
        else
          {
            g_assert_false (rdt_srv_state_check_tool (f->st, f->t.tid, 0, &detail));
            g_assert_nonnull (strstr (detail, "Invalid tool definition"));
          }
        g_free (detail);
      }
    }
  REFUSED (write_json (f, &f->owner, FALSE, "a/{any}", "{}"), "Invalid path: ", 401);
  REFUSED (write_json (f, &f->owner, FALSE, "///", "{}"), "Invalid path: ", 401);
  REFUSED (write_json (f, &f->owner, FALSE, "a//b", "{}"), "Invalid path: ", 401);
  OK (write_json (f, &f->owner, FALSE, "/profiles/x/", "{}"));
  g_assert_false (can (f, NULL, "read", "x"));
  g_assert_false (can (f, "", "read", "x"));
}

static void
test_status (void)
{
  g_assert_cmpuint (rdt_srv_status_for_detail ("No post permission"), ==, 403);
  g_assert_cmpuint (rdt_srv_status_for_detail ("Chain conflict: x"), ==, 409);
  g_assert_cmpuint (rdt_srv_status_for_detail ("Message hash mismatch"), ==, 400);
  g_assert_cmpuint (rdt_srv_status_for_detail ("Invalid message signature"), ==, 400);
  g_assert_cmpuint (rdt_srv_status_for_detail ("x must have y"), ==, 400);
  g_assert_cmpuint (rdt_srv_status_for_detail ("Invalid path: x"), ==, 401);
  g_assert_cmpuint (rdt_srv_status_for_detail ("Signer U has invalid chain of trust"), ==, 401);
  g_assert_cmpuint (rdt_srv_status_for_detail (NULL), ==, 401);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define T(name, fn) g_test_add ("/authz/" name, Fx, NULL, fx_setup, fn, fx_teardown)
  T ("appendix-a", test_appendix);
  T ("self-signed", test_self_signed);
  T ("blanked-member", test_blanked_member);
  T ("chat-capability", test_chat_capability);
  T ("roles", test_roles);
  T ("wildcards", test_wildcards);
  T ("must-be-owner", test_must_be_owner);
  T ("escalation", test_escalation);
  T ("invitation", test_invitation);
  T ("garbage", test_garbage);
  g_test_add_func ("/authz/status", test_status);
  return g_test_run ();
}
