/* Allowed (the control): a PKI program links with ucpki alone. */
#include "pki.h"

int	main(void);

int
main(void)
{
	return profile_find("modern") != NULL ? 0 : 1;
}
