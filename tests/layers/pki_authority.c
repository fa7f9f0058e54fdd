/* Forbidden: the PKI layer knows no authority. */
#include "authority.h"

int	main(void);

int
main(void)
{
	return 0;
}
