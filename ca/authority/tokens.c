/*
 * tokens.c: the enrollment tokens' records as an admin sees them: list
 * them, cancel a user's unused ones, forget the expired ones.  Making
 * and redeeming a token is issue.c's.
 */
#include <stdlib.h>
#include <string.h>

#include "authority_int.h"

struct token_walk {
	int	(*cb)(const struct authority_token *, void *);
	void	*arg;
};

static int
token_walk_cb(const struct store_token_row *r, void *arg)
{
	struct token_walk *w = arg;
	struct authority_token t;

	memset(&t, 0, sizeof(t));
	t.id = r->id;
	/* Borrowed for the call, like the row itself. */
	t.username = (char *)(uintptr_t)r->username;
	t.created_at = r->created_at;
	t.expires_at = r->expires_at;
	t.used_at = r->used_at;
	t.serial = (char *)(uintptr_t)r->serial;
	return w->cb(&t, w->arg);
}

int
authority_token_list(struct authority *a, const char *username,
    int (*cb)(const struct authority_token *, void *), void *arg)
{
	struct token_walk w = { cb, arg };
	struct store_user u;
	int rc;

	pthread_mutex_lock(&a->mu);
	if (username != NULL &&
	    (rc = store_user_get(a->st, username, &u)) == UC_OK)
		store_user_clear(&u);
	else
		rc = UC_OK;
	if (rc == UC_OK)
		rc = store_token_list(a->st, username, token_walk_cb, &w);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int
authority_token_cancel(struct authority *a, const char *username, int *count)
{
	struct store_user u;
	int64_t now = uc_now();
	int rc;

	*count = 0;
	memset(&u, 0, sizeof(u));
	pthread_mutex_lock(&a->mu);
	if (username != NULL) {
		if ((rc = store_user_get(a->st, username, &u)) != UC_OK)
			goto out;
		rc = store_user_expire_tokens_count(a->st, u.id, now, count);
	} else
		rc = store_tokens_forget_expired(a->st, now, count);
	if (rc == UC_OK && *count > 0)
		rc = store_audit(a->st, now, a->actor, username != NULL ?
		    "token-cancel" : "token-forget-expired",
		    username != NULL ? username : "-", NULL);
out:
	store_user_clear(&u);
	pthread_mutex_unlock(&a->mu);
	return rc;
}
