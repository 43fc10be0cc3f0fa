"""Access events: the per-member hash-chained log of every verify, pull, denial and emergency
use, its checkpoints and verification, the member's and administrators' views of it, and the
e-mail outbox that tells members of emergency access."""
