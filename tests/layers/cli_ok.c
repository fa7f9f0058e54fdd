/* Allowed (the control): the CLI's door is authority.h. */
#include "authority.h"

int	main(void);

int
main(void)
{
	return 0;
}
