/* Forbidden: the CLI reads records through authority.h, never the store. */
#include "store.h"

int	main(void);

int
main(void)
{
	return 0;
}
