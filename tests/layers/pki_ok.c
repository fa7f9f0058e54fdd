/* Allowed (the control): the PKI layer over core. */
#include "pki.h"

int	main(void);

int
main(void)
{
	return 0;
}
