"""Cadenza's side of the peer benchmarks (see bench/README.md, "Peers")."""
