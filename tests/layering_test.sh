#!/usr/bin/env bash
# The layers the build promises (docs/ARCHITECTURE.md): tools → services → ledger, and
#   - nothing in ledger/ includes gRPC (ledger_core links the protobuf messages only);
#   - tools/ reaches the ledger only through its public headers and generic helpers (the status
#     macros; pg/pg_conn.h, the libpq connection and binary encodings, for ledger-bench's
#     PostgreSQL peer), never the writer, the working state, the store, the rules or apply
#     (ledger-bench's prepared rows come from tests/support).
# Prints PASS, or each offending include and FAIL.
set -u
cd "${1:?usage: layering_test.sh SOURCE_DIR}"
public='ledger/(ledger|types|limits|citizen_id|dates|money|strings|text|hash|policy|account|audit|event_names|status_macros|pg/migrate|pg/pg_conn)\.h|ledger/v1/'
bad=0
while IFS= read -r line; do
  echo "ledger/ includes gRPC: $line"; bad=1
done < <(grep -rnE '#include [<"]grpc' ledger --include='*.h' --include='*.cc')
while IFS= read -r line; do
  echo "tools/ includes a ledger internal: $line"; bad=1
done < <(grep -rnE '#include "ledger/' tools --include='*.h' --include='*.cc' | grep -vE "#include \"($public)")
if ((bad)); then echo "FAIL: layering"; exit 1; fi
echo PASS
