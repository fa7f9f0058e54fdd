/* Allowed (the control): the daemon builds on enrolld.h and authority.h. */
#include "enrolld.h"

int	main(void);

int
main(void)
{
	return 0;
}
