// Compiles the public header alone, as C++17.
#include <datasync/datasync.h>

int ds_header_cpp_compiles() { return DS_VERSION_NUMBER > 0 ? DS_OK : DS_ERR_INTERNAL; }
