/* Forbidden: core is the bottom layer. */
#include "pki.h"

int	main(void);

int
main(void)
{
	return 0;
}
