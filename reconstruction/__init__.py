"""deeppp stage: reconstruction."""
