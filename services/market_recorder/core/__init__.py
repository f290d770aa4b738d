"""Pure part of the market-recorder: contract events to table rows, trades deduped by id."""
