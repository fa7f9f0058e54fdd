/* Forbidden: the store knows no crypto. */
#include "pki.h"

int	main(void);

int
main(void)
{
	return 0;
}
