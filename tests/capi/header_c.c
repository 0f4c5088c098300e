/* Compiles the public header alone, as strict C99. */
#include <datasync/datasync.h>

int ds_header_c_compiles(void) { return DS_VERSION_NUMBER > 0 ? DS_OK : DS_ERR_INTERNAL; }
