/*
 * profile.c: key types and the two certificate profiles.
 */
#include <string.h>

#include "pki.h"

static const struct profile profiles[] = {
	/* Most compatible with older mobile clients: all RSA. */
	{ "compatible", KT_RSA4096, KT_RSA3072, KT_RSA2048 },
	{ "modern", KT_EC_P384, KT_EC_P256, KT_EC_P256 },
};

static const struct {
	const char	*name;
	enum key_type	 type;
} key_types[] = {
	{ "rsa-2048", KT_RSA2048 },
	{ "rsa-3072", KT_RSA3072 },
	{ "rsa-4096", KT_RSA4096 },
	{ "ec-p256", KT_EC_P256 },
	{ "ec-p384", KT_EC_P384 },
	{ "ed25519", KT_ED25519 },
};

const struct profile *
profile_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (strcmp(profiles[i].name, name) == 0)
			return &profiles[i];
	return NULL;
}

int
key_type_parse(const char *s, enum key_type *out)
{
	size_t i;

	for (i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++) {
		if (strcmp(key_types[i].name, s) == 0) {
			*out = key_types[i].type;
			return UC_OK;
		}
	}
	return uc_seterr(UC_E_INVALID, "unknown key type '%s' (rsa-2048, "
	    "rsa-3072, rsa-4096, ec-p256, ec-p384, ed25519)", s);
}

const char *
key_type_name(enum key_type t)
{
	size_t i;

	for (i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
		if (key_types[i].type == t)
			return key_types[i].name;
	return "unknown";
}
