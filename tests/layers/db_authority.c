/* Forbidden: the store knows nothing above it. */
#include "authority.h"

int	main(void);

int
main(void)
{
	return 0;
}
