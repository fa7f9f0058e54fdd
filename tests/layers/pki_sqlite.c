/* Forbidden: the PKI layer does not link SQLite (this must fail to link). */
#include <sqlite3.h>

int	main(void);

int
main(void)
{
	return sqlite3_libversion_number() > 0 ? 0 : 1;
}
