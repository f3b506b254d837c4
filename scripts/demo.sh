#!/bin/sh
# `make demo`: decrypts and decodes a captured RSCP poll response with its
# RSCP key, exactly as a user would with a frame taken from tcpdump.
set -e
bin=${1:-build/energywire}
here=$(cd "$(dirname "$0")/.." && pwd)
echo "\$ E3DC_RSCP_KEY=my-rscp-key $bin rscp decode --file docs/examples/poll-response.hex"
E3DC_RSCP_KEY=my-rscp-key "$bin" rscp decode --file "$here/docs/examples/poll-response.hex"
