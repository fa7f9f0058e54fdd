/* Allowed (the control): core alone. */
#include "ucbuf.h"

int	main(void);

int
main(void)
{
	return 0;
}
