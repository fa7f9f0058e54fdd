/*
 * version.c: the version of userca, set in one place (the top-level
 * CMakeLists.txt, project(... VERSION)), for both binaries' --version.
 */
#include "core.h"

#ifndef USERCA_VERSION
#error "USERCA_VERSION comes from CMake (ca/core/CMakeLists.txt)"
#endif

const char *
uc_version(void)
{
	return USERCA_VERSION;
}
