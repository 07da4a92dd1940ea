"""The evidence ledger's integrity: Merkle sealing, verification, inclusion proofs, time-stamp anchoring."""
