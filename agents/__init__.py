"""rlkit agents: one file per algorithm family."""
