// Intentionally empty: FuzzerEntry only contributes the entry point in FuzzerEntry.c.
