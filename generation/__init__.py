"""deeppp stage: generation."""
