/* Forbidden: the CLI sees the authority's interface, not its insides. */
#include "authority_int.h"

int	main(void);

int
main(void)
{
	return 0;
}
