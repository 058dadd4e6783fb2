// `ledgerctl import`: the tax bureau's collection CSV, streamed to CollectionService.
#ifndef TOOLS_LEDGERCTL_IMPORT_H_
#define TOOLS_LEDGERCTL_IMPORT_H_

#include <cstddef>
#include <string>

#include "tools/ledgerctl/client.h"

namespace ledgerctl {

// Imports `file` (tools/collection_csv.h) over StreamCollections streams of at most
// kStreamRecordsMax records, in messages of `batch_size` (clamped to 1..kBatchRecordsMax).
// The file is read and sent batch by batch, so memory stays bounded whatever its size. Rows
// rejected (by the parser or the server) are printed with their line numbers; returns 0,
// kExitRowsRejected if any row was rejected, or kExitError if a stream failed (the rows of the
// streams before it are committed).
int Import(const Globals& globals, const std::string& file, size_t batch_size);

}  // namespace ledgerctl

#endif  // TOOLS_LEDGERCTL_IMPORT_H_
