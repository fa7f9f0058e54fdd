/* Allowed (the control): the store over core. */
#include "store.h"

int	main(void);

int
main(void)
{
	return 0;
}
