"""Plain numpy float64 references: the executable spec every native kernel is checked
against.  One module per op family (gemm, conv, pool, norm)."""
