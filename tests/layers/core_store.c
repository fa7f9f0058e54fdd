/* Forbidden: core is the bottom layer. */
#include "store.h"

int	main(void);

int
main(void)
{
	return 0;
}
