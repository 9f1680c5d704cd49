"""Protocol exchanges: what each costs in round trips and transfer time, and what can fail."""
