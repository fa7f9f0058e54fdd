/* Forbidden: the PKI layer knows no records. */
#include "store.h"

int	main(void);

int
main(void)
{
	return 0;
}
